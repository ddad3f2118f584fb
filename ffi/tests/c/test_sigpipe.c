/*
 * libferrio must never raise SIGPIPE in its host. This program keeps SIGPIPE's default disposition
 * (terminate) and leaves it unblocked, as a plain C server does, then resets (SO_LINGER 0 close) 200
 * connections at awkward moments: in the middle of an HTTP request, and while the server is writing a
 * large response (a static file, a polling response, WebSocket frames), with the server's callbacks
 * on its callback thread, inline on its network thread, and on a thread of this program. Afterwards a fresh client must
 * still be served. Without the library's protection the process dies with SIGPIPE (exit status 141).
 *
 * Compiled with -Wall -Wextra -Werror and ASan/UBSan by `make test-c`; prints "N passed, N failed".
 * Loopback only, every wait bounded.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "ferrio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RESETS 200
#define BIG_FILE_BYTES (4u << 20)
#define BIG_EVENT_CHARS (1u << 20)

static atomic_int passed, failed;
static uint16_t port;       /* of the server under test */
static int setup_failures;  /* resets that could not be set up as planned (a session, a connection) */
static char *big_event; /* ["big","xxx…"], emitted to every socket that connects */

static void check(int ok, const char *name, const char *detail) {
    if (ok) {
        atomic_fetch_add(&passed, 1);
    } else {
        atomic_fetch_add(&failed, 1);
        printf("FAIL %s %s\n", name, detail ? detail : "");
    }
}

static void check_status(ferrio_status status, const char *name) {
    char message[512] = "";
    if (status != FERRIO_STATUS_OK) ferrio_last_error(message, sizeof message, NULL);
    check(status == FERRIO_STATUS_OK, name, message);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- A raw client: TCP on 127.0.0.1, every call bounded by a 5 s socket timeout. ---------------- */

/* rcvbuf > 0: a small receive window, so that the server blocks in the middle of a large response. */
static int dial(int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Closes with SO_LINGER 0: the peer gets a RST instead of a FIN. */
static void reset(int fd) {
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

/* The test's own writes never raise SIGPIPE (MSG_NOSIGNAL): one in this process can only be ferrio's. */
static int send_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) return 0;
        p += n;
        len -= (size_t)n;
    }
    return 1;
}

static int send_text(int fd, const char *text) {
    return send_all(fd, text, strlen(text));
}

/* Reads into buf (NUL-terminated) until `needle` appears, EOF, an error or the buffer is full. */
static size_t read_until(int fd, char *buf, size_t cap, const char *needle) {
    size_t len = 0;
    buf[0] = 0;
    while (len + 1 < cap) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0) break;
        len += (size_t)n;
        buf[len] = 0;
        if (needle && strstr(buf, needle)) break;
    }
    return len;
}

/* Waits until the server has started answering (at most 2 s), then reads a little of it. */
static void await_some(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 2000) > 0) {
        char chunk[512];
        (void)recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    }
}

/* POSTs an Engine.IO payload to a polling session; 1 when the server answered "ok". */
static int post(const char *sid, const char *payload) {
    char request[512], buf[1024];
    int fd = dial(0);
    if (fd < 0) return 0;
    snprintf(request, sizeof request,
             "POST /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
             sid, strlen(payload), payload);
    send_text(fd, request);
    read_until(fd, buf, sizeof buf, "\r\n\r\nok");
    close(fd);
    return strstr(buf, "\r\n\r\nok") != NULL;
}

/* An Engine.IO polling session joined to "/" (its CONNECT answer read): writes the sid to sid. */
static int polling_session(char sid[32]) {
    char buf[4096];
    int fd = dial(0);
    if (fd < 0) return 0;
    send_text(fd, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Connection: close\r\n\r\n");
    read_until(fd, buf, sizeof buf, NULL);
    close(fd);
    const char *at = strstr(buf, "\"sid\":\"");
    if (!at) return 0;
    snprintf(sid, 32, "%.20s", at + 7);
    if (!post(sid, "40")) return 0;
    fd = dial(0);
    if (fd < 0) return 0;
    char request[256];
    snprintf(request, sizeof request,
             "GET /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Connection: close\r\n\r\n",
             sid);
    send_text(fd, request);
    read_until(fd, buf, sizeof buf, NULL);
    close(fd);
    return strstr(buf, "40{\"sid\":") != NULL;
}

/* ---- The four ways to reset a connection. ------------------------------------------------------- */

/* In the middle of an HTTP request: odd i, the headers are not finished; even i, a session's POST
 * body is (the server reads, fails, and answers 400 to a connection that is gone). */
static void reset_mid_request(int i) {
    char sid[32], request[512];
    if (i % 2) {
        snprintf(request, sizeof request,
                 "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: ");
    } else {
        if (!polling_session(sid)) {
            setup_failures++;
            return;
        }
        snprintf(request, sizeof request,
                 "POST /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 100000\r\n\r\n42[\"partial",
                 sid);
    }
    int fd = dial(0);
    if (fd < 0) {
        setup_failures++;
        return;
    }
    send_text(fd, request);
    sleep_ms(1);
    reset(fd);
}

/* In the middle of a large static file. */
static void reset_mid_file(void) {
    int fd = dial(4096);
    if (fd < 0) {
        setup_failures++;
        return;
    }
    send_text(fd, "GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await_some(fd);
    reset(fd);
}

/* In the middle of a polling response carrying the large event. */
static void reset_mid_poll(void) {
    char sid[32];
    if (!polling_session(sid) || !post(sid, "42[\"more\"]")) {
        setup_failures++;
        return;
    }
    int fd = dial(4096);
    if (fd < 0) {
        setup_failures++;
        return;
    }
    char request[256];
    snprintf(request, sizeof request,
             "GET /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", sid);
    send_text(fd, request);
    await_some(fd);
    reset(fd);
}

/* In the middle of WebSocket frames carrying the large event. */
static void reset_mid_websocket(void) {
    int fd = dial(4096);
    if (fd < 0) {
        setup_failures++;
        return;
    }
    send_text(fd, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    char buf[2048];
    read_until(fd, buf, sizeof buf, "\"upgrades\"");
    /* Masked text frames (mask 0): join "/", then ask for the large event. */
    static const unsigned char frames[] = {0x81, 0x82, 0, 0, 0, 0, '4', '0',
                                           0x81, 0x8a, 0, 0, 0, 0, '4', '2', '[', '"', 'm', 'o', 'r', 'e', '"', ']'};
    send_all(fd, frames, sizeof frames);
    await_some(fd);
    reset(fd);
}

/* ---- The server. ---------------------------------------------------------------------------------- */

/* "more": the large event, to be cut off by a reset (an emit to a client already gone may fail). */
static void on_more(void *ud, const ferrio_socket *socket, ferrio_str event, const ferrio_payload *args,
                    ferrio_ack *ack) {
    (void)ud, (void)event, (void)args, (void)ack;
    (void)ferrio_socket_emit(socket, "big", FERRIO_NUL_TERMINATED, big_event, FERRIO_NUL_TERMINATED, NULL, 0);
}

static void on_connection(void *ud, const ferrio_socket *socket) {
    (void)ud;
    (void)ferrio_socket_on(socket, "more", FERRIO_NUL_TERMINATED, on_more, NULL, NULL);
}

static int write_big_file(const char *dir) {
    char path[256];
    snprintf(path, sizeof path, "%s/big.bin", dir);
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    static char block[65536];
    memset(block, 'z', sizeof block);
    int ok = 1;
    for (unsigned written = 0; ok && written < BIG_FILE_BYTES; written += sizeof block)
        ok = fwrite(block, 1, sizeof block, f) == sizeof block;
    snprintf(path, sizeof path, "%s/index.html", dir);
    FILE *index = fopen(path, "wb");
    if (index) {
        fputs("<!doctype html><title>sigpipe</title>\n", index);
        fclose(index);
    }
    return fclose(f) == 0 && ok && index != NULL;
}

static void remove_dir(const char *dir) {
    char path[256];
    snprintf(path, sizeof path, "%s/big.bin", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/index.html", dir);
    unlink(path);
    rmdir(dir);
}

/* Every thread of the process but the main one and the manual-mode dispatcher is ferrio's; each must
 * have SIGPIPE blocked (Linux: SigBlk in /proc/self/task/<tid>/status; skipped where it is missing). */
static void check_thread_masks(const char *mode) {
    DIR *tasks = opendir("/proc/self/task");
    if (!tasks) return;
    int library = 0, unprotected = 0;
    struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        char path[300], comm[64] = "", line[256];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", entry->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
        fclose(f);
        comm[strcspn(comm, "\n")] = 0;
        if (atoi(entry->d_name) == getpid() || strcmp(comm, "dispatcher") == 0) continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/status", entry->d_name);
        if (!(f = fopen(path, "r"))) continue;
        unsigned long long blocked = 0;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "SigBlk: %llx", &blocked) == 1) break;
        fclose(f);
        library++;
        if (!(blocked & (1ull << (SIGPIPE - 1)))) {
            unprotected++;
            printf("thread %s (%s) has SIGPIPE unblocked\n", entry->d_name, comm);
        }
    }
    closedir(tasks);
    char name[96], detail[64];
    snprintf(name, sizeof name, "%s: every ferrio thread blocks SIGPIPE", mode);
    snprintf(detail, sizeof detail, "%d of %d not", unprotected, library);
    check(library > 0 && unprotected == 0, name, detail);
}

/* Manual mode: this host thread (SIGPIPE unblocked, default disposition) runs the callbacks. */
static atomic_int dispatcher_stop;
static void *dispatcher_main(void *arg) {
    ferrio_server *server = arg;
    int fd = -1;
    if (ferrio_server_fd(server, &fd) != FERRIO_STATUS_OK) return NULL;
    while (!atomic_load(&dispatcher_stop)) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 20) > 0) ferrio_server_dispatch(server, 0, NULL);
    }
    return NULL;
}

/* One server in `mode`: 200 resets, then a fresh client. */
static void run(ferrio_dispatch_mode mode, const char *name, const char *dir) {
    char label[128], detail[64];
    ferrio_server_options *options = NULL;
    ferrio_server *server = NULL;
    ferrio_namespace *nsp = NULL;
    check_status(ferrio_server_options_new(&options), "options");
    check_status(ferrio_server_options_set_static_dir(options, dir, FERRIO_NUL_TERMINATED), "static dir");
    /* Quick heartbeats: the server also writes pings to sessions whose connection was reset. */
    check_status(ferrio_server_options_set_ping_interval_ms(options, 300), "ping interval");
    check_status(ferrio_server_options_set_ping_timeout_ms(options, 300), "ping timeout");
    check_status(ferrio_server_options_set_dispatch_mode(options, (uint32_t)mode), "dispatch mode");
    check_status(ferrio_server_options_set_worker_threads(options, mode == FERRIO_DISPATCH_MODE_INLINE ? 1 : 2),
                 "worker threads");
    check_status(ferrio_server_new(options, &server), "server new");
    ferrio_server_options_free(options);
    if (!server) return;
    check_status(ferrio_server_of(server, "/", FERRIO_NUL_TERMINATED, &nsp), "of /");
    check_status(ferrio_namespace_on_connection(nsp, on_connection, NULL, NULL), "on connection");
    check_status(ferrio_server_listen(server, "127.0.0.1", FERRIO_NUL_TERMINATED, 0, &port), "listen");
    pthread_t dispatcher;
    int dispatching = 0;
    if (mode == FERRIO_DISPATCH_MODE_MANUAL) {
        atomic_store(&dispatcher_stop, 0);
        dispatching = pthread_create(&dispatcher, NULL, dispatcher_main, server) == 0;
        if (dispatching) pthread_setname_np(dispatcher, "dispatcher");
        check(dispatching, "dispatcher thread started", NULL);
    }

    double started = now();
    setup_failures = 0;
    for (int i = 0; i < RESETS; i++) {
        switch (i % 4) {
            case 0: reset_mid_request(i / 4); break;
            case 1: reset_mid_file(); break;
            case 2: reset_mid_poll(); break;
            default: reset_mid_websocket(); break;
        }
    }
    printf("%s: %d connections reset in %.1f s\n", name, RESETS, now() - started);
    snprintf(label, sizeof label, "%s: the process survived %d resets", name, RESETS);
    check(1, label, NULL);
    snprintf(label, sizeof label, "%s: every reset was set up as planned", name);
    snprintf(detail, sizeof detail, "%d not", setup_failures);
    check(setup_failures == 0, label, detail);
    check_thread_masks(name);

    /* The reset sessions end (heartbeats to them fail or time out). */
    double deadline = now() + 10;
    while (ferrio_server_connection_count(server) > 0 && now() < deadline) sleep_ms(20);
    snprintf(detail, sizeof detail, "%zu still open", ferrio_server_connection_count(server));
    snprintf(label, sizeof label, "%s: every reset connection was closed", name);
    check(ferrio_server_connection_count(server) == 0, label, detail);

    /* A fresh client is still served: the static page, then a socket.io session with its event. */
    char buf[16384];
    int fd = dial(0);
    if (fd >= 0) {
        send_text(fd, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        read_until(fd, buf, sizeof buf, "</title>");
        close(fd);
    }
    snprintf(label, sizeof label, "%s: a fresh client gets the page", name);
    check(fd >= 0 && strncmp(buf, "HTTP/1.1 200", 12) == 0 && strstr(buf, "<title>sigpipe</title>"), label, buf);
    char sid[32];
    int joined = polling_session(sid) && post(sid, "42[\"more\"]");
    buf[0] = 0;
    if (joined && (fd = dial(0)) >= 0) {
        char request[256];
        snprintf(request, sizeof request,
                 "GET /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Connection: close\r\n\r\n",
                 sid);
        send_text(fd, request);
        read_until(fd, buf, sizeof buf, "[\"xxxx");
        close(fd);
    }
    snprintf(label, sizeof label, "%s: a fresh socket.io client joins and gets its event", name);
    check(strncmp(buf, "HTTP/1.1 200", 12) == 0 && strstr(buf, "42[\"big\",\"xxxx"), label, joined ? buf : "no session");

    if (dispatching) {
        atomic_store(&dispatcher_stop, 1);
        pthread_join(dispatcher, NULL);
    }
    snprintf(label, sizeof label, "%s: free", name);
    check_status(ferrio_server_free(server), label);
    ferrio_namespace_free(nsp);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* The host's choice here: SIGPIPE's default action (terminate), not blocked on any thread. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGPIPE, &dfl, NULL);
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_UNBLOCK, &pipe_set, NULL);
    struct sigaction current;
    sigaction(SIGPIPE, NULL, &current);
    check(current.sa_handler == SIG_DFL, "SIGPIPE has its default disposition", NULL);
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    check(!sigismember(&mask, SIGPIPE), "SIGPIPE is not blocked on the main thread", NULL);
    printf("ferrio %s, SIGPIPE: default disposition, unblocked\n", ferrio_version());

    char dir[] = "/tmp/ferrio-sigpipe-XXXXXX";
    check(mkdtemp(dir) != NULL && write_big_file(dir), "big static file written", dir);
    big_event = malloc(BIG_EVENT_CHARS + 16);
    strcpy(big_event, "[\"");
    memset(big_event + 2, 'x', BIG_EVENT_CHARS);
    strcpy(big_event + 2 + BIG_EVENT_CHARS, "\"]");

    run(FERRIO_DISPATCH_MODE_THREAD, "callback thread", dir);
    run(FERRIO_DISPATCH_MODE_INLINE, "inline", dir);
    run(FERRIO_DISPATCH_MODE_MANUAL, "manual", dir);

    /* The host's own state is as it was: ferrio changed neither the disposition nor this thread's mask. */
    sigaction(SIGPIPE, NULL, &current);
    check(current.sa_handler == SIG_DFL, "SIGPIPE's disposition is still the default", NULL);
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    check(!sigismember(&mask, SIGPIPE), "SIGPIPE is still unblocked on the main thread", NULL);

    free(big_event);
    remove_dir(dir);
    printf("%d passed, %d failed\n", atomic_load(&passed), atomic_load(&failed));
    return atomic_load(&failed) == 0 ? 0 : 1;
}
