// ferrio.hpp — a header-only C++17 wrapper over the C API of ferrio (ferrio.h).
//
// RAII handles, lambdas, and socket.io's verbs:
//
//     ferrio::Server io;
//     io.on("connection", [](ferrio::Socket socket) {
//         socket.join("lobby");
//         socket.on("chat", [](ferrio::Socket socket, ferrio::Event& event) {
//             socket.to("lobby").emit("chat", event.json);
//             if (event.ack) event.ack->send("[\"ok\"]");
//         });
//     });
//     io.listen("127.0.0.1", 3000);
//
// Failing calls throw ferrio::Error (with the status and ferrio's message). Callbacks run on the server's
// callback thread (see include/README.md); an exception escaping a callback is caught, reported on
// stderr and dropped, because it must not unwind through the C library.
#ifndef FERRIO_HPP
#define FERRIO_HPP

#include "ferrio.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferrio {

/// A failed call: the status and this thread's last error message.
class Error : public std::runtime_error {
public:
    Error(ferrio_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
    /// The status the C call returned.
    ferrio_status status() const noexcept { return status_; }

private:
    ferrio_status status_;
};

namespace detail {

inline std::string last_error() {
    std::size_t needed = 0;
    ferrio_last_error(nullptr, 0, &needed);
    std::string text(needed, '\0');
    if (needed > 0 && ferrio_last_error(text.data(), text.size(), nullptr) == FERRIO_STATUS_OK) {
        text.resize(needed - 1);
    } else {
        text.clear();
    }
    return text;
}

inline void check(ferrio_status status) {
    if (status != FERRIO_STATUS_OK) {
        std::string message = last_error();
        if (message.empty()) message = ferrio_status_str(status);
        throw Error(status, message);
    }
}

inline std::string_view view(ferrio_str s) { return std::string_view(s.ptr, s.len); }

/// A heap-held callable handed to C as user_data; `release` is its user_data_free.
template <class F>
struct Holder {
    F f;
};

template <class F>
void* hold(F f) {
    return new Holder<F>{std::move(f)};
}

template <class F>
void release(void* p) {
    delete static_cast<Holder<F>*>(p);
}

template <class F>
F& get(void* p) {
    return static_cast<Holder<F>*>(p)->f;
}

template <class Body>
void guarded(Body&& body) noexcept {
    try {
        body();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ferrio: exception in a callback: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "ferrio: unknown exception in a callback\n");
    }
}

inline std::vector<ferrio_bytes> bytes(const std::vector<std::string_view>& attachments) {
    std::vector<ferrio_bytes> out;
    out.reserve(attachments.size());
    for (auto a : attachments) out.push_back({reinterpret_cast<const uint8_t*>(a.data()), a.size()});
    return out;
}

}  // namespace detail

/// Quotes text as a JSON string literal (for building argument arrays).
inline std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

/// Arguments in socket.io's wire convention: the JSON text of the arguments array (binary arguments
/// are placeholders) and the attachments. Views, borrowed for the callback.
struct Payload {
    std::string_view json;
    std::vector<std::string_view> attachments;
    /// ferrio's payload these views borrow from (what the per-argument calls read); null when empty.
    const ferrio_payload* raw = nullptr;

    /// How many arguments there are.
    std::size_t arg_count() const {
        std::size_t n = 0;
        if (raw) detail::check(ferrio_payload_arg_count(raw, &n));
        return n;
    }
    /// The JSON text of argument `index` (a binary argument is its placeholder); throws past the end.
    std::string_view arg(std::size_t index) const {
        ferrio_str s{};
        detail::check(ferrio_payload_arg(raw, index, &s));
        return detail::view(s);
    }
    /// The bytes of binary argument `index`; throws for an argument that is not binary.
    std::string_view arg_binary(std::size_t index) const {
        ferrio_bytes b{};
        detail::check(ferrio_payload_arg_binary(raw, index, &b));
        return std::string_view(reinterpret_cast<const char*>(b.ptr), b.len);
    }

    static Payload from(const ferrio_payload* p) {
        Payload out;
        if (!p) return out;
        out.raw = p;
        out.json = detail::view(p->json);
        for (std::size_t i = 0; i < p->attachment_count; i++) {
            out.attachments.emplace_back(reinterpret_cast<const char*>(p->attachments[i].ptr), p->attachments[i].len);
        }
        return out;
    }
};

/// A client's acknowledgement request: answer it once with `send` (from any thread); dropped unsent,
/// it is released without an answer.
class Ack {
public:
    explicit Ack(ferrio_ack* ack) : ack_(ack) {}
    Ack(Ack&& other) noexcept : ack_(std::exchange(other.ack_, nullptr)) {}
    Ack& operator=(Ack&& other) noexcept {
        if (this != &other) {
            reset();
            ack_ = std::exchange(other.ack_, nullptr);
        }
        return *this;
    }
    Ack(const Ack&) = delete;
    Ack& operator=(const Ack&) = delete;
    ~Ack() { reset(); }

    /// Answers with arguments (the JSON text of an array) and attachments. The ack is spent whatever
    /// happens: if this throws (invalid JSON, socket gone), the client gets no answer.
    void send(std::string_view json = "[]", const std::vector<std::string_view>& attachments = {}) {
        if (!ack_) throw Error(FERRIO_STATUS_ALREADY_USED, "this ack was already used");
        auto views = detail::bytes(attachments);
        detail::check(ferrio_ack_send(std::exchange(ack_, nullptr), json.data(), json.size(), views.data(),
                                      views.size()));
    }

private:
    void reset() {
        if (ack_) ferrio_ack_free(std::exchange(ack_, nullptr));
    }
    ferrio_ack* ack_;
};

/// An event received from a client.
struct Event {
    std::string_view name;
    /// The JSON text of the arguments array.
    std::string_view json;
    std::vector<std::string_view> attachments;
    /// The arguments, with per-argument access (`args.arg(0)`…), borrowed for the callback.
    Payload args;
    /// Present when the client asked for an acknowledgement (move it out to answer later).
    std::optional<Ack> ack;
};

class Broadcast;

/// `Socket::emit_with_ack`'s timeout that waits for the answer as long as the client stays.
inline constexpr std::chrono::milliseconds no_timeout = std::chrono::milliseconds::max();

/// A socket. In a callback it borrows ferrio's handle; `keep()` makes an owning copy usable after the
/// callback, from any thread.
class Socket {
public:
    explicit Socket(const ferrio_socket* socket) : socket_(socket) {}

    /// An owning copy, valid after the callback returns.
    Socket keep() const {
        ferrio_socket* copy = nullptr;
        detail::check(ferrio_socket_clone(socket_, &copy));
        Socket out(copy);
        out.owner_ = std::shared_ptr<ferrio_socket>(copy, ferrio_socket_free);
        return out;
    }

    std::string id() const {
        ferrio_str s;
        detail::check(ferrio_socket_id(socket_, &s));
        return std::string(detail::view(s));
    }
    std::string nsp() const {
        ferrio_str s;
        detail::check(ferrio_socket_namespace(socket_, &s));
        return std::string(detail::view(s));
    }
    bool connected() const { return ferrio_socket_connected(socket_); }
    /// Whether this socket is a session brought back by connection state recovery.
    bool recovered() const { return ferrio_socket_recovered(socket_); }
    std::string handshake() const { return read(ferrio_socket_handshake); }
    /// The client's `auth` (JSON object text), borrowed like the socket.
    std::string_view auth() const {
        ferrio_str s{};
        detail::check(ferrio_socket_auth(socket_, &s));
        return detail::view(s);
    }
    /// The rooms as a JSON array of strings.
    std::string rooms() const { return read(ferrio_socket_rooms); }
    std::string data() const { return read(ferrio_socket_data); }
    void set_data(std::string_view json) const { detail::check(ferrio_socket_set_data(socket_, json.data(), json.size())); }

    /// Handles an event: `handler(socket, event)`.
    void on(std::string_view event, std::function<void(Socket, Event&)> handler) const {
        using F = std::function<void(Socket, Event&)>;
        detail::check(ferrio_socket_on(socket_, event.data(), event.size(), &Socket::event_trampoline,
                                       detail::hold<F>(std::move(handler)), &detail::release<F>));
    }
    void off(std::string_view event) const { detail::check(ferrio_socket_off(socket_, event.data(), event.size())); }

    /// Sees every incoming event: `handler(socket, name, args)`.
    void on_any(std::function<void(Socket, std::string_view, const Payload&)> handler) const {
        using F = std::function<void(Socket, std::string_view, const Payload&)>;
        detail::check(ferrio_socket_on_any(
            socket_,
            [](void* ud, const ferrio_socket* s, ferrio_str name, const ferrio_payload* args) {
                detail::guarded([&] { detail::get<F>(ud)(Socket(s), detail::view(name), Payload::from(args)); });
            },
            detail::hold<F>(std::move(handler)), &detail::release<F>));
    }

    /// `handler(socket, reason)` when the socket is disconnecting (rooms still visible).
    void on_disconnecting(std::function<void(Socket, std::string_view)> handler) const {
        detail::check(ferrio_socket_on_disconnecting(socket_, &Socket::reason_trampoline, hold_reason(std::move(handler)),
                                                     &detail::release<ReasonFn>));
    }
    /// `handler(socket, reason)` once the socket has disconnected.
    void on_disconnect(std::function<void(Socket, std::string_view)> handler) const {
        detail::check(ferrio_socket_on_disconnect(socket_, &Socket::reason_trampoline, hold_reason(std::move(handler)),
                                                  &detail::release<ReasonFn>));
    }

    /// Emits `event` with arguments (the JSON text of an array) and attachments.
    void emit(std::string_view event, std::string_view json = "[]",
              const std::vector<std::string_view>& attachments = {}) const {
        auto views = detail::bytes(attachments);
        detail::check(ferrio_socket_emit(socket_, event.data(), event.size(), json.data(), json.size(), views.data(),
                                         views.size()));
    }

    /// Emits and waits (without blocking) for the client's answer: `done(status, response)`, with
    /// `response` empty unless `status` is FERRIO_STATUS_OK. `ferrio::no_timeout` waits as long as the
    /// client stays (socket.io's default); a zero timeout means ferrio's default of 5 s.
    void emit_with_ack(std::string_view event, std::string_view json, std::chrono::milliseconds timeout,
                       std::function<void(ferrio_status, const Payload&)> done,
                       const std::vector<std::string_view>& attachments = {}) const {
        using F = std::function<void(ferrio_status, const Payload&)>;
        auto views = detail::bytes(attachments);
        detail::check(ferrio_socket_emit_with_ack(
            socket_, event.data(), event.size(), json.data(), json.size(), views.data(), views.size(),
            timeout == no_timeout ? FERRIO_NO_TIMEOUT : static_cast<uint64_t>(timeout.count()),
            [](void* ud, ferrio_status status, const ferrio_payload* response) {
                detail::guarded([&] { detail::get<F>(ud)(status, Payload::from(response)); });
            },
            detail::hold<F>(std::move(done)), &detail::release<F>));
    }

    void join(std::string_view room) const { detail::check(ferrio_socket_join(socket_, room.data(), room.size())); }
    void leave(std::string_view room) const { detail::check(ferrio_socket_leave(socket_, room.data(), room.size())); }
    void disconnect(bool close = false) const { detail::check(ferrio_socket_disconnect(socket_, close)); }

    /// Every other socket of the namespace (socket.io's `socket.broadcast`).
    inline Broadcast broadcast() const;
    /// The other sockets in `room` (socket.io's `socket.to(room)`).
    inline Broadcast to(std::string_view room) const;

    const ferrio_socket* raw() const { return socket_; }

private:
    using ReasonFn = std::function<void(Socket, std::string_view)>;

    static void* hold_reason(ReasonFn f) { return detail::hold<ReasonFn>(std::move(f)); }

    static void reason_trampoline(void* ud, const ferrio_socket* s, ferrio_str reason) {
        detail::guarded([&] { detail::get<ReasonFn>(ud)(Socket(s), detail::view(reason)); });
    }

    static void event_trampoline(void* ud, const ferrio_socket* s, ferrio_str name, const ferrio_payload* args,
                                 ferrio_ack* ack) {
        Event event;
        if (ack) event.ack.emplace(ack);  // owned from here on, even if the handler throws
        detail::guarded([&] {
            event.args = Payload::from(args);
            event.name = detail::view(name);
            event.json = event.args.json;
            event.attachments = event.args.attachments;
            detail::get<std::function<void(Socket, Event&)>>(ud)(Socket(s), event);
        });
    }

    using Reader = ferrio_status (*)(const ferrio_socket*, char*, std::size_t, std::size_t*);
    std::string read(Reader reader) const {
        std::size_t needed = 0;
        ferrio_status status = reader(socket_, nullptr, 0, &needed);
        if (status != FERRIO_STATUS_BUFFER_TOO_SMALL) detail::check(status);
        std::string text(needed, '\0');
        detail::check(reader(socket_, text.data(), text.size(), nullptr));
        text.resize(needed - 1);
        return text;
    }

    const ferrio_socket* socket_;
    std::shared_ptr<ferrio_socket> owner_;
};

/// A set of target sockets and flags (socket.io's `to` / `except` / `local` / `volatile` / `timeout`),
/// then an operation. Builder methods return the broadcast for chaining.
class Broadcast {
public:
    explicit Broadcast(ferrio_broadcast* b) : b_(b, ferrio_broadcast_free) {}

    Broadcast& to(std::string_view room) {
        detail::check(ferrio_broadcast_to(b_.get(), room.data(), room.size()));
        return *this;
    }
    Broadcast& except(std::string_view room) {
        detail::check(ferrio_broadcast_except(b_.get(), room.data(), room.size()));
        return *this;
    }
    Broadcast& local() {
        detail::check(ferrio_broadcast_local(b_.get()));
        return *this;
    }
    Broadcast& volatile_() {
        detail::check(ferrio_broadcast_volatile(b_.get()));
        return *this;
    }
    Broadcast& timeout(std::chrono::milliseconds ms) {
        detail::check(ferrio_broadcast_timeout_ms(b_.get(), static_cast<uint64_t>(ms.count())));
        return *this;
    }

    void emit(std::string_view event, std::string_view json = "[]",
              const std::vector<std::string_view>& attachments = {}) const {
        auto views = detail::bytes(attachments);
        detail::check(ferrio_broadcast_emit(b_.get(), event.data(), event.size(), json.data(), json.size(),
                                            views.data(), views.size()));
    }

    /// One answer per target: `done(status, answers as (socket id, payload), expected)`.
    void emit_with_ack(std::string_view event, std::string_view json,
                       std::function<void(ferrio_status, const std::vector<std::pair<std::string_view, Payload>>&,
                                          std::size_t)>
                           done) const {
        using F = std::function<void(ferrio_status, const std::vector<std::pair<std::string_view, Payload>>&,
                                     std::size_t)>;
        detail::check(ferrio_broadcast_emit_with_ack(
            b_.get(), event.data(), event.size(), json.data(), json.size(), nullptr, 0,
            [](void* ud, ferrio_status status, const ferrio_ack_response* responses, std::size_t count,
               std::size_t expected) {
                detail::guarded([&] {
                    std::vector<std::pair<std::string_view, Payload>> answers;
                    for (std::size_t i = 0; i < count; i++) {
                        answers.emplace_back(detail::view(responses[i].socket_id), Payload::from(&responses[i].payload));
                    }
                    detail::get<F>(ud)(status, answers, expected);
                });
            },
            detail::hold<F>(std::move(done)), &detail::release<F>));
    }

    void sockets_join(std::string_view room) const {
        detail::check(ferrio_broadcast_sockets_join(b_.get(), room.data(), room.size()));
    }
    void sockets_leave(std::string_view room) const {
        detail::check(ferrio_broadcast_sockets_leave(b_.get(), room.data(), room.size()));
    }
    void disconnect_sockets(bool close = false) const {
        detail::check(ferrio_broadcast_disconnect_sockets(b_.get(), close));
    }
    /// `done(status, json array of {id, rooms, data, handshake})`.
    void fetch_sockets(std::function<void(ferrio_status, std::string_view)> done) const {
        using F = std::function<void(ferrio_status, std::string_view)>;
        detail::check(ferrio_broadcast_fetch_sockets(
            b_.get(),
            [](void* ud, ferrio_status status, ferrio_str json) {
                detail::guarded([&] { detail::get<F>(ud)(status, detail::view(json)); });
            },
            detail::hold<F>(std::move(done)), &detail::release<F>));
    }

private:
    std::shared_ptr<ferrio_broadcast> b_;
};

inline Broadcast Socket::broadcast() const {
    ferrio_broadcast* b = nullptr;
    detail::check(ferrio_socket_broadcast(socket_, &b));
    return Broadcast(b);
}

inline Broadcast Socket::to(std::string_view room) const { return broadcast().to(room); }

/// A connect middleware's pending decision: `accept()` or `reject(message, data_json)`, once, from any
/// thread; dropped undecided, it is rejected with "rejected".
class ConnectRequest {
public:
    explicit ConnectRequest(ferrio_connect_request* r) : r_(r) {}
    ConnectRequest(ConnectRequest&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    ConnectRequest& operator=(ConnectRequest&&) = delete;
    ConnectRequest(const ConnectRequest&) = delete;
    ConnectRequest& operator=(const ConnectRequest&) = delete;
    ~ConnectRequest() {
        if (r_) ferrio_connect_reject(r_, "rejected", 8, nullptr, 0);
    }
    void accept() { detail::check(ferrio_connect_accept(take())); }
    void reject(std::string_view message, std::string_view data_json = {}) {
        detail::check(ferrio_connect_reject(take(), message.data(), message.size(), data_json.data(), data_json.size()));
    }

private:
    ferrio_connect_request* take() {
        if (!r_) throw Error(FERRIO_STATUS_ALREADY_USED, "this connect request was already decided");
        return std::exchange(r_, nullptr);
    }
    ferrio_connect_request* r_;
};

/// A namespace (`io.of("/chat")`).
class Namespace {
public:
    explicit Namespace(ferrio_namespace* n) : n_(n, ferrio_namespace_free) {}

    /// `on("connection", handler)`.
    void on(std::string_view event, std::function<void(Socket)> handler) const {
        if (event != "connection" && event != "connect") {
            throw Error(FERRIO_STATUS_INVALID_ARGUMENT, "a namespace only has the \"connection\" event");
        }
        using F = std::function<void(Socket)>;
        detail::check(ferrio_namespace_on_connection(
            n_.get(),
            [](void* ud, const ferrio_socket* s) { detail::guarded([&] { detail::get<F>(ud)(Socket(s)); }); },
            detail::hold<F>(std::move(handler)), &detail::release<F>));
    }

    /// A connect middleware: `middleware(socket, request)`; decide with the request.
    void use(std::function<void(Socket, ConnectRequest)> middleware) const {
        using F = std::function<void(Socket, ConnectRequest)>;
        detail::check(ferrio_namespace_use(
            n_.get(),
            [](void* ud, const ferrio_socket* s, ferrio_connect_request* r) {
                ConnectRequest request(r);
                detail::guarded([&] { detail::get<F>(ud)(Socket(s), std::move(request)); });
            },
            detail::hold<F>(std::move(middleware)), &detail::release<F>));
    }

    Broadcast broadcast() const {
        ferrio_broadcast* b = nullptr;
        detail::check(ferrio_namespace_broadcast(n_.get(), &b));
        return Broadcast(b);
    }
    Broadcast to(std::string_view room) const { return broadcast().to(room); }
    Broadcast except(std::string_view room) const { return broadcast().except(room); }
    void emit(std::string_view event, std::string_view json = "[]") const { broadcast().emit(event, json); }

    /// This process's rooms with their sizes, as a JSON object {"room": size} sorted by name.
    std::string rooms(bool include_private = false) const {
        std::size_t needed = 0;
        ferrio_status status = ferrio_namespace_rooms(n_.get(), include_private, nullptr, 0, &needed);
        if (status != FERRIO_STATUS_BUFFER_TOO_SMALL) detail::check(status);
        std::string text(needed, '\0');
        detail::check(ferrio_namespace_rooms(n_.get(), include_private, text.data(), text.size(), nullptr));
        text.resize(needed - 1);
        return text;
    }

    std::size_t room_size(std::string_view room) const {
        std::size_t n = 0;
        detail::check(ferrio_namespace_room_size(n_.get(), room.data(), room.size(), &n));
        return n;
    }

private:
    std::shared_ptr<ferrio_namespace> n_;
};

/// Server options (socket.io's defaults unless set). The setters record; `Server`'s constructor checks
/// every value and throws `ferrio::Error` (`FERRIO_STATUS_INVALID_ARGUMENT`) naming one out of range.
class Options {
public:
    Options() {
        ferrio_server_options* o = nullptr;
        detail::check(ferrio_server_options_new(&o));
        o_.reset(o);
    }
    Options& path(std::string_view p) { return apply(ferrio_server_options_set_path(o_.get(), p.data(), p.size())); }
    Options& ping_interval(std::chrono::milliseconds ms) {
        return apply(ferrio_server_options_set_ping_interval_ms(o_.get(), static_cast<uint64_t>(ms.count())));
    }
    Options& ping_timeout(std::chrono::milliseconds ms) {
        return apply(ferrio_server_options_set_ping_timeout_ms(o_.get(), static_cast<uint64_t>(ms.count())));
    }
    Options& max_payload(std::size_t bytes) { return apply(ferrio_server_options_set_max_payload(o_.get(), bytes)); }
    Options& transports(bool polling, bool websocket) {
        return apply(ferrio_server_options_set_transports(o_.get(), polling, websocket));
    }
    Options& cors_any(bool credentials = false) { return apply(ferrio_server_options_set_cors_any(o_.get(), credentials)); }
    Options& client_dir(std::string_view d) {
        return apply(ferrio_server_options_set_client_dir(o_.get(), d.data(), d.size()));
    }
    Options& static_dir(std::string_view d) {
        return apply(ferrio_server_options_set_static_dir(o_.get(), d.data(), d.size()));
    }
    /// Run callbacks from your own loop (`Server::fd` + `Server::dispatch`).
    Options& manual_dispatch() {
        return apply(ferrio_server_options_set_dispatch_mode(o_.get(), FERRIO_DISPATCH_MODE_MANUAL));
    }
    /// Run callbacks on the one network thread as events are read (least overhead; keep them short).
    Options& inline_dispatch() {
        return apply(ferrio_server_options_set_dispatch_mode(o_.get(), FERRIO_DISPATCH_MODE_INLINE));
    }
    Options& worker_threads(std::size_t n) { return apply(ferrio_server_options_set_worker_threads(o_.get(), n)); }
    /// Connection state recovery (socket.io's `connectionStateRecovery`, off by default); socket.io's
    /// defaults. See `ferrio_server_options_set_connection_state_recovery`; `Server` checks the values.
    Options& connection_state_recovery(std::chrono::milliseconds max_disconnection = std::chrono::minutes(2),
                                       bool skip_middlewares = true, std::size_t max_stored_packets = 10000) {
        return apply(ferrio_server_options_set_connection_state_recovery(
            o_.get(), static_cast<uint64_t>(max_disconnection.count()), skip_middlewares, max_stored_packets));
    }
    /// Compression of long-polling responses (engine.io's `httpCompression`, on from 1024 bytes by
    /// default): gzip or deflate from `threshold` bytes when the request accepts one; `false` turns it
    /// off. See `ferrio_server_options_set_http_compression`.
    Options& http_compression(bool enabled, std::size_t threshold = 1024) {
        return apply(ferrio_server_options_set_http_compression(o_.get(), enabled, threshold));
    }
    const ferrio_server_options* raw() const { return o_.get(); }

private:
    Options& apply(ferrio_status status) {
        detail::check(status);
        return *this;
    }
    struct Free {
        void operator()(ferrio_server_options* o) const { ferrio_server_options_free(o); }
    };
    std::unique_ptr<ferrio_server_options, Free> o_;
};

/// A Socket.IO server. Destroying it frees it (not from inside its own callbacks: call `close()` there).
class Server {
public:
    explicit Server(const Options& options = Options()) {
        ferrio_server* s = nullptr;
        detail::check(ferrio_server_new(options.raw(), &s));
        s_ = s;
    }
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    ~Server() {
        if (s_) ferrio_server_free(s_);
    }

    Namespace of(std::string_view name) const {
        ferrio_namespace* n = nullptr;
        detail::check(ferrio_server_of(s_, name.data(), name.size(), &n));
        return Namespace(n);
    }
    /// `io.on("connection", handler)` on the main namespace.
    void on(std::string_view event, std::function<void(Socket)> handler) const { of("/").on(event, std::move(handler)); }
    void use(std::function<void(Socket, ConnectRequest)> middleware) const { of("/").use(std::move(middleware)); }
    Broadcast to(std::string_view room) const { return of("/").to(room); }
    Broadcast except(std::string_view room) const { return of("/").except(room); }
    void emit(std::string_view event, std::string_view json = "[]") const { of("/").emit(event, json); }

    /// Binds and serves; returns the bound port.
    uint16_t listen(std::string_view host, uint16_t port) const {
        uint16_t bound = 0;
        detail::check(ferrio_server_listen(s_, host.data(), host.size(), port, &bound));
        return bound;
    }
    /// Starts a graceful shutdown (allowed from callbacks).
    void close() const { detail::check(ferrio_server_close(s_)); }
    /// Manual mode: the fd to poll.
    int fd() const {
        int fd = -1;
        detail::check(ferrio_server_fd(s_, &fd));
        return fd;
    }
    /// Manual mode: runs queued callbacks on this thread; returns how many ran.
    std::size_t dispatch(std::size_t max = 0) const {
        std::size_t ran = 0;
        detail::check(ferrio_server_dispatch(s_, max, &ran));
        return ran;
    }
    ferrio_server* raw() const { return s_; }

private:
    ferrio_server* s_ = nullptr;
};

/// The library's version.
inline std::string_view version() { return ferrio_version(); }

}  // namespace ferrio

#endif  // FERRIO_HPP
