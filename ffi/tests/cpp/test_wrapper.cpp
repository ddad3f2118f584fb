// The C++ wrapper's test: a server written with ferrio.hpp (RAII, lambdas, socket.io's verbs) driven by
// socket.io-client through driver.js, once with the callbacks on ferrio's callback thread and once inline
// on the network thread. HTTP compression: the first round's server compresses polling responses from 64
// bytes, the second's from the default 1024, and a second server in each round not at all; the driver
// reads them with raw HTTP requests. Compiled with -Wall -Wextra -Werror by `make test-cpp`; the last line
// is "N passed, N failed".
#include "ferrio.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <thread>

extern char** environ;

static std::atomic<int> passed{0}, failed{0};
static std::atomic<bool> done{false}, saw_client_disconnect{false};

static void check(bool ok, const std::string& name, const std::string& detail = "") {
    if (ok) {
        ++passed;
    } else {
        ++failed;
        std::printf("FAIL %s %s\n", name.c_str(), detail.c_str());
        std::fflush(stdout);
    }
}

// The namespace "/compress" of `io`: `big` (n) is acked with a string of n x's.
static void answer_big(const ferrio::Server& io) {
    io.of("/compress").on("connection", [](ferrio::Socket socket) {
        socket.on("big", [](ferrio::Socket, ferrio::Event& event) {
            const std::size_t n = std::stoul(std::string(event.args.arg(0)));
            if (event.ack) event.ack->send("[\"" + std::string(n, 'x') + "\"]");
        });
    });
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s driver.js\n", argv[0]);
        return 2;
    }
    // Connection state recovery: checked when the server is made, with the C status and message.
    try {
        ferrio::Options bad;
        bad.connection_state_recovery(std::chrono::minutes(2), true, 0);
        ferrio::Server refused(bad);
        check(false, "max_stored_packets 0 is refused");
    } catch (const ferrio::Error& e) {
        check(e.status() == FERRIO_STATUS_INVALID_ARGUMENT, "max_stored_packets 0 is refused", e.what());
        check(std::string(e.what()).find("max_stored_packets") != std::string::npos, "the refusal names it",
              e.what());
    }
    for (bool inline_mode : {false, true}) {
        int status = -1;
        done = false;
        saw_client_disconnect = false;
        const std::string mode = inline_mode ? " (inline)" : " (callback thread)";
        ferrio::Options options;
        options.ping_interval(std::chrono::milliseconds(2000)).connection_state_recovery();
        ferrio::Options uncompressed;
        uncompressed.http_compression(false);
        const std::size_t threshold = inline_mode ? 1024 : 64;
        if (inline_mode) {
            options.inline_dispatch();
            uncompressed.inline_dispatch();
        } else {
            options.worker_threads(2).http_compression(true, threshold);
        }
        ferrio::Server io(options), off(uncompressed);
        answer_big(io);
        answer_big(off);
        io.use([](ferrio::Socket socket, ferrio::ConnectRequest request) {
            check(socket.auth().front() == '{', "auth() is a JSON object", std::string(socket.auth()));
            if (socket.auth().find("\"token\":\"bad\"") != std::string::npos) {
                request.reject("go away", R"({"why":"token"})");
            } else {
                request.accept();
            }
        });
        io.on("connection", [](ferrio::Socket socket) {
            check(!socket.recovered(), "a new socket is not recovered");
            socket.join("room");
            socket.on("hello", [](ferrio::Socket, ferrio::Event& event) {
                if (event.ack) event.ack->send("[\"hi\"," + std::string(event.json.substr(1)));
            });
            socket.on("args", [](ferrio::Socket, ferrio::Event& event) {
                // ("text", {"n":1}, <bytes 7 8>) read one argument at a time.
                const ferrio::Payload& args = event.args;
                check(args.arg_count() == 3, "arg_count", std::to_string(args.arg_count()));
                check(args.arg(0) == "\"text\"", "arg(0)", std::string(args.arg(0)));
                check(args.arg(1) == "{\"n\":1}", "arg(1)", std::string(args.arg(1)));
                check(args.arg_binary(2) == std::string_view("\x07\x08", 2), "arg_binary(2)");
                try {
                    args.arg(3);
                    check(false, "arg past the end throws");
                } catch (const ferrio::Error& e) {
                    check(e.status() == FERRIO_STATUS_INVALID_ARGUMENT, "arg past the end throws", e.what());
                }
                try {
                    args.arg_binary(0);
                    check(false, "arg_binary of text throws");
                } catch (const ferrio::Error& e) {
                    check(e.status() == FERRIO_STATUS_INVALID_ARGUMENT, "arg_binary of text throws", e.what());
                }
                if (event.ack) event.ack->send();
            });
            socket.on("ask-forever", [](ferrio::Socket socket, ferrio::Event&) {
                ferrio::Socket kept = socket.keep();
                socket.emit_with_ack("slow-ping", "[]", ferrio::no_timeout,
                                     [kept](ferrio_status status, const ferrio::Payload& response) {
                                         check(status == FERRIO_STATUS_OK, "no_timeout ack status");
                                         kept.emit("slow-pong-seen", "[" + ferrio::json_string(response.json) + "]");
                                     });
            });
            socket.on("shout", [](ferrio::Socket socket, ferrio::Event& event) {
                socket.to("room").emit("shouted", event.json, event.attachments);
            });
            socket.on("ask", [](ferrio::Socket socket, ferrio::Event&) {
                ferrio::Socket kept = socket.keep();
                socket.emit_with_ack("ping", "[]", std::chrono::milliseconds(3000),
                                     [kept](ferrio_status status, const ferrio::Payload& response) {
                                         check(status == FERRIO_STATUS_OK, "emit_with_ack status");
                                         kept.emit("pong-seen", "[" + ferrio::json_string(response.json) + "]");
                                     });
            });
            socket.on("result", [](ferrio::Socket, ferrio::Event& event) {
                check(event.json.find("\",true,") != std::string_view::npos, "driver", std::string(event.json));
                if (event.ack) event.ack->send();
            });
            socket.on("done", [](ferrio::Socket, ferrio::Event& event) {
                if (event.ack) event.ack->send();
                done = true;
            });
            socket.on_disconnect([](ferrio::Socket, std::string_view reason) {
                if (reason == "client namespace disconnect") saw_client_disconnect = true;
            });
            try {
                socket.emit("connect");
                check(false, "reserved event throws");
            } catch (const ferrio::Error& e) {
                check(e.status() == FERRIO_STATUS_RESERVED_EVENT, "reserved event throws", e.what());
            }
        });
        uint16_t port = io.listen("127.0.0.1", 0), port_off = off.listen("127.0.0.1", 0);
        check(port != 0 && port_off != 0, "listening");

        std::string p = std::to_string(port), t = std::to_string(threshold), p_off = std::to_string(port_off);
        char node[] = "node";
        char* child_argv[] = {node, argv[1], p.data(), t.data(), p_off.data(), nullptr};
        pid_t pid;
        bool spawned = posix_spawnp(&pid, "node", nullptr, nullptr, child_argv, environ) == 0;
        check(spawned, "node driver started");
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        bool exited = false;
        while (spawned && std::chrono::steady_clock::now() < deadline) {
            if (waitpid(pid, &status, WNOHANG) == pid) {
                exited = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (spawned && !exited) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
        check(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0, "driver exit status 0" + mode);
        check(done, "driver reported every result" + mode);
        check(saw_client_disconnect, "disconnect reason seen by a lambda" + mode);
    }  // ~Server frees it, each round
    std::printf("%d passed, %d failed\n", passed.load(), failed.load());
    return failed == 0 ? 0 : 1;
}
