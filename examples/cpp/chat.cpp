// The ferrio chat example in C++17: the same multi-room chat, event contract and page as examples/rust
// (see examples/README.md), written with the header-only wrapper include/ferrio.hpp.
//
//   make examples && target/examples/chat-cpp     # from the repository root; then open http://127.0.0.1:3000
//
// Environment: PORT (default 3000), FERRIO_STATIC_DIR (default examples/static), FERRIO_CLIENT_DIR
// (default node_modules/socket.io-client/dist). Stops on Ctrl-C or SIGTERM.
//
// Every callback runs on ferrio's callback thread, one at a time, so the chat's state needs no lock.
#include "ferrio.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::size_t kMaxNameChars = 32;
constexpr std::size_t kMaxTextChars = 1000;

// ---- Just enough JSON reading for the contract's arguments. ------------------------------------------

std::size_t skip_ws(std::string_view s, std::size_t i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

std::optional<unsigned> hex4(std::string_view s, std::size_t i) {
    if (i + 4 > s.size()) return std::nullopt;
    unsigned v = 0;
    for (std::size_t k = i; k < i + 4; k++) {
        char c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
        else return std::nullopt;
    }
    return v;
}

// The JSON string at s[i] decoded; `i` moves past it.
std::optional<std::string> read_string(std::string_view s, std::size_t& i) {
    if (i >= s.size() || s[i] != '"') return std::nullopt;
    std::string out;
    for (i++; i < s.size() && s[i] != '"'; i++) {
        if (s[i] != '\\') {
            out += s[i];
            continue;
        }
        if (++i >= s.size()) return std::nullopt;
        switch (s[i]) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'u': {
                auto cp = hex4(s, i + 1);
                if (!cp) return std::nullopt;
                i += 4;
                if (*cp >= 0xd800 && *cp < 0xdc00 && i + 6 < s.size() && s[i + 1] == '\\' && s[i + 2] == 'u') {
                    auto lo = hex4(s, i + 3);
                    if (lo && *lo >= 0xdc00 && *lo < 0xe000) {
                        *cp = 0x10000 + ((*cp - 0xd800) << 10) + (*lo - 0xdc00);
                        i += 6;
                    }
                }
                put_utf8(out, *cp);
                break;
            }
            default: out += s[i];
        }
    }
    if (i >= s.size()) return std::nullopt;
    i++;
    return out;
}

std::size_t skip_value(std::string_view s, std::size_t i) {
    i = skip_ws(s, i);
    if (i < s.size() && s[i] == '"') {
        read_string(s, i);
        return i;
    }
    if (i < s.size() && (s[i] == '{' || s[i] == '[')) {
        int depth = 0;
        while (i < s.size()) {
            if (s[i] == '"') {
                read_string(s, i);
                continue;
            }
            if (s[i] == '{' || s[i] == '[') depth++;
            if (s[i] == '}' || s[i] == ']') {
                if (--depth == 0) return i + 1;
            }
            i++;
        }
        return i;
    }
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']') i++;
    return i;
}

// The first element of an arguments array ("null" when there is none).
std::string_view first_arg(std::string_view args) {
    std::size_t i = skip_ws(args, 0);
    if (i >= args.size() || args[i] != '[') return "null";
    i = skip_ws(args, i + 1);
    if (i >= args.size() || args[i] == ']') return "null";
    return args.substr(i, skip_value(args, i) - i);
}

std::optional<std::string> as_string(std::string_view value) {
    std::size_t i = skip_ws(value, 0);
    return read_string(value, i);
}

bool is_object(std::string_view value) {
    std::size_t i = skip_ws(value, 0);
    return i < value.size() && value[i] == '{';
}

// The string member `key` of an object.
std::optional<std::string> member_string(std::string_view object, std::string_view key) {
    std::size_t i = skip_ws(object, 0);
    if (i >= object.size() || object[i] != '{') return std::nullopt;
    i = skip_ws(object, i + 1);
    while (i < object.size() && object[i] == '"') {
        auto name = read_string(object, i);
        i = skip_ws(object, i);
        if (!name || i >= object.size() || object[i] != ':') return std::nullopt;
        i = skip_ws(object, i + 1);
        if (*name == key) return read_string(object, i);
        i = skip_ws(object, skip_value(object, i));
        if (i < object.size() && object[i] == ',') i = skip_ws(object, i + 1);
    }
    return std::nullopt;
}

// ---- The chat. ------------------------------------------------------------------------------------------

using ferrio::json_string;

std::string trim(std::string s) {
    const char* ws = " \t\r\n";
    auto start = s.find_first_not_of(ws);
    if (start == std::string::npos) return "";
    return s.substr(start, s.find_last_not_of(ws) - start + 1);
}

std::size_t utf8_chars(const std::string& s) {
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

bool has_control(const std::string& s) {
    for (std::size_t i = 0; i < s.size(); i++) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) return true;
        if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9f) return true;
    }
    return false;
}

bool looks_like_socket_id(const std::string& s) {
    return s.size() == 20 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
           });
}

std::optional<std::string> validate_name(const std::string& name, const std::string& what) {
    if (name.empty()) return "the " + what + " must not be empty";
    if (utf8_chars(name) > kMaxNameChars) return "the " + what + " is longer than 32 characters";
    if (has_control(name)) return "the " + what + " contains control characters";
    return std::nullopt;
}

std::optional<std::string> validate_text(const std::string& text) {
    if (text.empty()) return "the message is empty";
    if (utf8_chars(text) > kMaxTextChars) return "the message is longer than 1000 characters";
    return std::nullopt;
}

long long now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// A failed action: its message goes back in the ack.
struct Refusal {
    std::string message;
};

class Chat {
public:
    void connected(ferrio::Socket socket) {
        nicks_[socket.id()] = "";
        socket.emit("rooms", room_list());
        socket.emit("users", user_list());
        action(socket, "nick", [this](ferrio::Socket s, std::string_view arg) { return nick(s, arg); });
        action(socket, "join", [this](ferrio::Socket s, std::string_view arg) { return join(s, arg); });
        action(socket, "leave", [this](ferrio::Socket s, std::string_view arg) { return leave(s, arg); });
        action(socket, "message", [this](ferrio::Socket s, std::string_view arg) { return message(s, arg); });
        action(socket, "private", [this](ferrio::Socket s, std::string_view arg) { return private_message(s, arg); });
        socket.on_disconnecting([this](ferrio::Socket s, std::string_view) {
            // The rooms are still visible here (sorted by ferrio).
            std::string id = s.id(), me = nick_of(id), rooms = s.rooms();
            if (me.empty()) return;
            for (std::size_t i = skip_ws(rooms, 1); i < rooms.size() && rooms[i] == '"';) {
                auto room = read_string(rooms, i);
                if (room && *room != id) notice(*room, me + " is leaving");
                i = skip_ws(rooms, i);
                if (i < rooms.size() && rooms[i] == ',') i = skip_ws(rooms, i + 1);
            }
        });
        socket.on_disconnect([this](ferrio::Socket s, std::string_view) {
            nicks_.erase(s.id());
            push_presence();
        });
    }

private:
    using Action = std::function<std::string(ferrio::Socket, std::string_view)>;

    // Registers an action: its result (JSON members) or refusal goes back in the ack.
    void action(ferrio::Socket& socket, std::string_view event, Action run) {
        socket.on(event, [this, run](ferrio::Socket s, ferrio::Event& e) {
            std::string body;
            try {
                std::string fields = run(s, first_arg(e.json));
                body = "[{\"ok\":true" + std::string(fields.empty() ? "" : ",") + fields + "}]";
            } catch (const Refusal& r) {
                body = "[{\"error\":" + json_string(r.message) + "}]";
            }
            if (e.ack) e.ack->send(body);
            push_presence();
        });
    }

    std::string nick_of(const std::string& id) const {
        auto it = nicks_.find(id);
        return it == nicks_.end() ? "" : it->second;
    }

    std::string require_nick(ferrio::Socket& s) const {
        std::string me = nick_of(s.id());
        if (me.empty()) throw Refusal{"pick a nickname first"};
        return me;
    }

    static bool in_room(ferrio::Socket& s, const std::string& room) {
        return s.rooms().find(json_string(room)) != std::string::npos;
    }

    void notice(const std::string& room, const std::string& text) {
        nsp_->to(room).emit("notice", "[{\"room\":" + json_string(room) + ",\"text\":" + json_string(text) +
                                         ",\"time\":" + std::to_string(now_ms()) + "}]");
    }

    std::string nick(ferrio::Socket s, std::string_view arg) {
        auto raw = as_string(arg);
        if (!raw) throw Refusal{"the nickname must be a string"};
        std::string name = trim(*raw), id = s.id();
        if (auto bad = validate_name(name, "nickname")) throw Refusal{*bad};
        auto lower = [](std::string t) {
            std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            return t;
        };
        for (const auto& [other, taken] : nicks_) {
            if (other != id && !taken.empty() && lower(taken) == lower(name)) throw Refusal{"that nickname is already taken"};
        }
        nicks_[id] = name;
        return "\"id\":" + json_string(id) + ",\"nick\":" + json_string(name);
    }

    std::string join(ferrio::Socket s, std::string_view arg) {
        std::string me = require_nick(s);
        auto raw = as_string(arg);
        if (!raw) throw Refusal{"the room name must be a string"};
        std::string room = trim(*raw);
        if (auto bad = validate_name(room, "room name")) throw Refusal{*bad};
        if (looks_like_socket_id(room)) throw Refusal{"that room name is reserved"};
        if (!in_room(s, room)) {
            s.join(room);
            notice(room, me + " joined");
        }
        return "\"room\":" + json_string(room);
    }

    std::string leave(ferrio::Socket s, std::string_view arg) {
        std::string me = require_nick(s);
        auto room = as_string(arg);
        if (!room) throw Refusal{"the room name must be a string"};
        if (looks_like_socket_id(*room) || !in_room(s, *room)) throw Refusal{"you are not in that room"};
        s.leave(*room);
        notice(*room, me + " left");
        return "\"room\":" + json_string(*room);
    }

    std::string message(ferrio::Socket s, std::string_view arg) {
        std::string me = require_nick(s);
        if (!is_object(arg)) throw Refusal{"expected {room, text}"};
        auto room = member_string(arg, "room");
        if (!room) throw Refusal{"room must be a string"};
        auto raw = member_string(arg, "text");
        if (!raw) throw Refusal{"text must be a string"};
        std::string text = trim(*raw);
        if (auto bad = validate_text(text)) throw Refusal{*bad};
        if (looks_like_socket_id(*room) || !in_room(s, *room)) throw Refusal{"join the room first"};
        nsp_->to(*room).emit("message", "[{\"room\":" + json_string(*room) + ",\"from\":" + json_string(me) +
                                           ",\"text\":" + json_string(text) + ",\"time\":" + std::to_string(now_ms()) +
                                           "}]");
        return "";
    }

    std::string private_message(ferrio::Socket s, std::string_view arg) {
        std::string me = require_nick(s);
        if (!is_object(arg)) throw Refusal{"expected {to, text}"};
        auto to = member_string(arg, "to");
        if (!to) throw Refusal{"to must be a socket id"};
        auto raw = member_string(arg, "text");
        if (!raw) throw Refusal{"text must be a string"};
        std::string text = trim(*raw);
        if (auto bad = validate_text(text)) throw Refusal{*bad};
        std::string target = looks_like_socket_id(*to) ? nick_of(*to) : "";
        if (target.empty()) throw Refusal{"no such user"};
        std::string id = s.id();
        // The target and the sender (once, should they be the same).
        nsp_->to(*to).to(id).emit("private", "[{\"from\":{\"id\":" + json_string(id) + ",\"nick\":" + json_string(me) +
                                                "},\"to\":{\"id\":" + json_string(*to) + ",\"nick\":" +
                                                json_string(target) + "},\"text\":" + json_string(text) +
                                                ",\"time\":" + std::to_string(now_ms()) + "}]");
        return "";
    }

    // [[{name, count}]] from ferrio's {"room": count} (sorted by name).
    std::string room_list() const {
        std::string out = "[[";
        std::string rooms = nsp_->rooms();
        bool first = true;
        for (std::size_t i = skip_ws(rooms, 1); i < rooms.size() && rooms[i] == '"';) {
            auto name = read_string(rooms, i);
            i = skip_ws(rooms, i) + 1;
            std::size_t end = skip_value(rooms, i);
            if (!name) break;
            out += std::string(first ? "" : ",") + "{\"name\":" + json_string(*name) + ",\"count\":" +
                   std::string(rooms.substr(i, end - i)) + "}";
            first = false;
            i = skip_ws(rooms, end);
            if (i < rooms.size() && rooms[i] == ',') i = skip_ws(rooms, i + 1);
        }
        return out + "]]";
    }

    // [[{id, nick}]]: users with a nickname, sorted by nickname.
    std::string user_list() const {
        std::vector<std::pair<std::string, std::string>> list;
        for (const auto& [id, nick] : nicks_) {
            if (!nick.empty()) list.emplace_back(nick, id);
        }
        std::sort(list.begin(), list.end());
        std::string out = "[[";
        for (std::size_t i = 0; i < list.size(); i++) {
            out += std::string(i ? "," : "") + "{\"id\":" + json_string(list[i].second) + ",\"nick\":" +
                   json_string(list[i].first) + "}";
        }
        return out + "]]";
    }

    // Pushes the lists to everybody when they changed.
    void push_presence() {
        std::string rooms = room_list(), users = user_list();
        if (rooms != last_rooms_) nsp_->emit("rooms", last_rooms_ = rooms);
        if (users != last_users_) nsp_->emit("users", last_users_ = users);
    }

public:
    /// Set once the server exists (the chat outlives the server, whose last callbacks use it).
    std::optional<ferrio::Namespace> nsp_;

private:
    std::map<std::string, std::string> nicks_;  // socket id -> nickname ("" until picked)
    std::string last_rooms_, last_users_;
};

}  // namespace

int main() {
    const char* port_env = std::getenv("PORT");
    const char* static_dir = std::getenv("FERRIO_STATIC_DIR");
    const char* client_dir = std::getenv("FERRIO_CLIENT_DIR");
    // Signals are taken with sigwait below, so every thread ferrio starts inherits them blocked.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    Chat chat;  // declared first: destroyed after the server
    try {
        ferrio::Server io(ferrio::Options()
                              .static_dir(static_dir ? static_dir : "examples/static")
                              .client_dir(client_dir ? client_dir : "node_modules/socket.io-client/dist"));
        chat.nsp_ = io.of("/");
        io.on("connection", [&chat](ferrio::Socket socket) { chat.connected(socket); });
        uint16_t port = io.listen("127.0.0.1", static_cast<uint16_t>(port_env ? std::atoi(port_env) : 3000));
        std::printf("chat (C++, ferrio %s) on http://127.0.0.1:%u\n", ferrio_version(), port);
        std::fflush(stdout);
        int sig = 0;
        sigwait(&stop, &sig);
    } catch (const ferrio::Error& e) {
        std::fprintf(stderr, "chat: %s\n", e.what());
        return 1;
    }
    return 0;
}
