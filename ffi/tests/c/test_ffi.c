/*
 * The C test of libferrio: four servers (the default callback thread, manual dispatch from this
 * program's main loop without HTTP compression, one with connection state recovery, and one compressing
 * polling responses from 64 bytes) driven by the official socket.io-client, and by raw HTTP requests for
 * the compression, through driver.js. Compiled with
 * -Wall -Wextra -Werror -fsanitize=address,undefined against the checked-in include/ferrio.h by
 * `make test-c`. Prints one line per failed check and a last line "N passed, N failed".
 *
 * Usage: test_ffi path/to/driver.js
 */
#define _POSIX_C_SOURCE 200809L
#include "ferrio.h"

#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

/* A C string variable as (pointer, FERRIO_NUL_TERMINATED); literals go through FERRIO_STR. */
#define S(text) (text), FERRIO_NUL_TERMINATED

static atomic_int passed, failed;
static atomic_int registered, released; /* user_data handed to ferrio / freed by ferrio */
static atomic_int done;                 /* the driver sent "done" */
static atomic_int saw_server_ns_disconnect, saw_client_ns_disconnect, saw_kicked_rooms;
static ferrio_server *server_a, *server_b;
static ferrio_namespace *nsp_a;
static pthread_t main_thread, api_thread;
static atomic_int api_thread_started;

static int verbose; /* FERRIO_TEST_VERBOSE=1: print passing checks too */

static void check(int ok, const char *name, const char *detail) {
    if (ok) {
        atomic_fetch_add(&passed, 1);
        if (verbose) printf("ok %s\n", name);
    } else {
        atomic_fetch_add(&failed, 1);
        printf("FAIL %s %s\n", name, detail ? detail : "");
        fflush(stdout);
    }
}

/* Checks a status; on failure prints the thread's last error. */
static void check_status(ferrio_status status, ferrio_status wanted, const char *name) {
    char detail[600];
    if (status == wanted) {
        check(1, name, NULL);
        return;
    }
    char message[512];
    ferrio_last_error(message, sizeof message, NULL);
    snprintf(detail, sizeof detail, "status %u (%s): %s", (unsigned)status, ferrio_status_str(status), message);
    check(0, name, detail);
}

/* Counted user data: every registration gets one; ferrio must release each exactly once. */
static void *ud_new(void) {
    atomic_fetch_add(&registered, 1);
    return malloc(16);
}

static void ud_free(void *user_data) {
    atomic_fetch_add(&released, 1);
    free(user_data);
}

/* A socket kept as user data (for completions), released by ferrio. */
static void *socket_ud(const ferrio_socket *socket) {
    ferrio_socket *copy = NULL;
    check_status(ferrio_socket_clone(socket, &copy), FERRIO_STATUS_OK, "socket clone");
    atomic_fetch_add(&registered, 1);
    return copy;
}

static void socket_ud_free(void *user_data) {
    atomic_fetch_add(&released, 1);
    ferrio_socket_free(user_data);
}

/* Argument n of an event, which must be a JSON string without escapes, copied without its quotes. */
static int arg_string(const ferrio_payload *args, size_t n, char *out, size_t cap) {
    ferrio_str arg;
    if (ferrio_payload_arg(args, n, &arg) != FERRIO_STATUS_OK) return 0;
    if (arg.len < 2 || arg.ptr[0] != '"' || arg.ptr[arg.len - 1] != '"' || memchr(arg.ptr, '\\', arg.len) ||
        arg.len - 1 > cap)
        return 0;
    memcpy(out, arg.ptr + 1, arg.len - 2);
    out[arg.len - 2] = 0;
    return 1;
}

static int str_is(ferrio_str text, const char *wanted) {
    return text.len == strlen(wanted) && memcmp(text.ptr, wanted, text.len) == 0 && text.ptr[text.len] == 0;
}

/* text as a JSON string literal. */
static void json_quote(const char *text, size_t len, char *out, size_t cap) {
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < len && o + 3 < cap; i++) {
        if (text[i] == '"' || text[i] == '\\') out[o++] = '\\';
        out[o++] = text[i];
    }
    out[o++] = '"';
    out[o] = 0;
}

/* Reads a JSON output into a malloc'd buffer with the two-call pattern. */
typedef ferrio_status (*reader)(const ferrio_socket *, char *, size_t, size_t *);
static char *read_json(reader read, const ferrio_socket *socket, const char *name) {
    size_t needed = 0;
    check_status(read(socket, NULL, 0, &needed), FERRIO_STATUS_BUFFER_TOO_SMALL, name);
    char *buf = malloc(needed);
    size_t written = 0;
    check_status(read(socket, buf, needed, &written), FERRIO_STATUS_OK, name);
    check(written == needed && strlen(buf) + 1 == needed, name, "size");
    return buf;
}

static void emit1(const ferrio_socket *socket, const char *event, const char *json) {
    check_status(ferrio_socket_emit(socket, S(event), S(json), NULL, 0), FERRIO_STATUS_OK, event);
}

static void ack_empty(ferrio_ack *ack) {
    if (ack) check_status(ferrio_ack_send(ack, NULL, 0, NULL, 0), FERRIO_STATUS_OK, "ack");
}

/* ---- Events of server A. ---------------------------------------------------------------------- */

static void on_echo(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud;
    check(event.ptr[event.len] == 0 && strcmp(event.ptr, "echo") == 0, "event name view", event.ptr);
    check(args->attachment_count == 1 && args->attachments[0].len == 4 && args->attachments[0].ptr[3] == 255,
          "echo attachment view", args->json.ptr);
    /* One argument at a time: [{"text":"hi","n":1}, <4 bytes>]. */
    size_t count = 0;
    check_status(ferrio_payload_arg_count(args, &count), FERRIO_STATUS_OK, "arg count");
    check(count == 2, "two arguments", args->json.ptr);
    ferrio_str first = {"", 0}, second = {"", 0};
    check_status(ferrio_payload_arg(args, 0, &first), FERRIO_STATUS_OK, "arg 0");
    check(str_is(first, "{\"text\":\"hi\",\"n\":1}"), "arg 0 is the object, NUL-terminated", first.ptr);
    check_status(ferrio_payload_arg(args, 1, &second), FERRIO_STATUS_OK, "arg 1");
    check(str_is(second, "{\"_placeholder\":true,\"num\":0}"), "arg 1 is a placeholder", second.ptr);
    ferrio_bytes bytes = {NULL, 0};
    check_status(ferrio_payload_arg_binary(args, 1, &bytes), FERRIO_STATUS_OK, "arg 1 as bytes");
    check(bytes.ptr == args->attachments[0].ptr && bytes.len == 4, "arg 1 is attachment 0", NULL);
    check_status(ferrio_payload_arg_binary(args, 0, &bytes), FERRIO_STATUS_INVALID_ARGUMENT, "arg 0 is not binary");
    check(bytes.ptr == args->attachments[0].ptr, "out-param untouched on failure", NULL);
    check_status(ferrio_payload_arg(args, 2, &first), FERRIO_STATUS_INVALID_ARGUMENT, "arg index out of range");
    check(str_is(first, "{\"text\":\"hi\",\"n\":1}"), "out-param untouched when out of range", first.ptr);
    char message[256];
    ferrio_last_error(message, sizeof message, NULL);
    check(strstr(message, "out of range") != NULL, "out of range: the message says so", message);
    check_status(ferrio_payload_arg_count(NULL, &count), FERRIO_STATUS_NULL_ARGUMENT, "arg count of NULL");
    check_status(ferrio_payload_arg(args, 0, NULL), FERRIO_STATUS_NULL_ARGUMENT, "arg into NULL");
    ferrio_payload copy = *args; /* a copy made during the callback reads the same */
    check_status(ferrio_payload_arg(&copy, 0, &second), FERRIO_STATUS_OK, "arg of a copy");
    check(second.ptr == first.ptr, "a copy shares the index", NULL);
    ferrio_payload mine = {args->json, NULL, 0, NULL}; /* filled in here: not ferrio's */
    check_status(ferrio_payload_arg_count(&mine, &count), FERRIO_STATUS_INVALID_ARGUMENT, "a payload of our own");
    check_status(ferrio_socket_emit(s, FERRIO_STR("echo"), args->json.ptr, args->json.len, args->attachments,
                                    args->attachment_count),
                 FERRIO_STATUS_OK, "emit echo");
    if (ack) ferrio_ack_free(ack);
}

static void on_bin(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)event, (void)ack;
    if (args->attachment_count != 1) {
        check(0, "bin attachment", args->json.ptr);
        return;
    }
    uint8_t reversed[64];
    size_t n = args->attachments[0].len < sizeof reversed ? args->attachments[0].len : sizeof reversed;
    for (size_t i = 0; i < n; i++) reversed[i] = args->attachments[0].ptr[n - 1 - i];
    ferrio_bytes out = {reversed, n};
    char json[64];
    snprintf(json, sizeof json, "[%zu,{\"_placeholder\":true,\"num\":0}]", n);
    check_status(ferrio_socket_emit(s, FERRIO_STR("bin-reply"), S(json), &out, 1), FERRIO_STATUS_OK, "emit binary");
}

static void on_ack_me(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)s, (void)event;
    check(ack != NULL, "ack handle present", NULL);
    if (!ack) return;
    char json[256];
    int len = snprintf(json, sizeof json, "[\"ok\",%s]", args->json.ptr);
    check_status(ferrio_ack_send(ack, json, (size_t)len, NULL, 0), FERRIO_STATUS_OK, "ack send");
    check_status(ferrio_ack_send(ack, FERRIO_STR("[]"), NULL, 0), FERRIO_STATUS_ALREADY_USED, "ack used twice");
}

/* ferrio_ack_send consumes the ack whatever it returns: here the JSON is invalid, so the client gets no
 * answer and the handle is spent. */
static void on_ack_bad(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)s, (void)event, (void)args;
    check(ack != NULL, "ack-bad has an ack", NULL);
    if (!ack) return;
    check_status(ferrio_ack_send(ack, FERRIO_STR("[1,"), NULL, 0), FERRIO_STATUS_INVALID_JSON, "ack send with invalid JSON");
    check_status(ferrio_ack_send(ack, FERRIO_STR("[\"late\"]"), NULL, 0), FERRIO_STATUS_ALREADY_USED,
                 "ack consumed by a failed send");
    check_status(ferrio_ack_free(ack), FERRIO_STATUS_ALREADY_USED, "ack free after a failed send");
}

static void on_question_answer(void *ud, ferrio_status status, const ferrio_payload *response) {
    const ferrio_socket *s = ud;
    check_status(status, FERRIO_STATUS_OK, "server ack answered");
    if (status != FERRIO_STATUS_OK) return;
    ferrio_bytes nine = {NULL, 0};
    check_status(ferrio_payload_arg_binary(response, 1, &nine), FERRIO_STATUS_OK, "an ack answer's binary argument");
    check(nine.len == 1 && nine.ptr[0] == 9, "the ack answer's bytes", NULL);
    char quoted[256], json[300];
    json_quote(response->json.ptr, response->json.len, quoted, sizeof quoted);
    snprintf(json, sizeof json, "[%s,%zu]", quoted, response->attachment_count);
    emit1(s, "client-answered", json);
}

static void on_ask_client(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)event, (void)ack;
    check_status(ferrio_socket_emit_with_ack(s, FERRIO_STR("question"), args->json.ptr, args->json.len, NULL, 0, 3000,
                                             on_question_answer, socket_ud(s), socket_ud_free),
                 FERRIO_STATUS_OK, "emit_with_ack");
}

static void on_timeout_answer(void *ud, ferrio_status status, const ferrio_payload *response) {
    check_status(status, FERRIO_STATUS_TIMEOUT, "server ack times out");
    check(response == NULL, "no response on timeout", NULL);
    char json[128];
    snprintf(json, sizeof json, "[\"%s\"]", ferrio_status_str(status));
    emit1(ud, "timeout-ok", json);
}

static void on_ask_timeout(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)event, (void)args, (void)ack;
    check_status(ferrio_socket_emit_with_ack(s, FERRIO_STR("ignored"), NULL, 0, NULL, 0, 300, on_timeout_answer, socket_ud(s),
                                             socket_ud_free),
                 FERRIO_STATUS_OK, "emit_with_ack (timeout)");
}

static void on_join(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)event;
    char room[64];
    check(arg_string(args, 0, room, sizeof room), "join argument", args->json.ptr);
    check_status(ferrio_socket_join(s, S(room)), FERRIO_STATUS_OK, "join");
    ack_empty(ack);
}

static void on_bcast(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)s, (void)event, (void)ack;
    char to[64], except[64];
    check(arg_string(args, 0, to, sizeof to) && arg_string(args, 1, except, sizeof except),
          "bcast arguments", args->json.ptr);
    ferrio_broadcast *b = NULL;
    check_status(ferrio_namespace_broadcast(nsp_a, &b), FERRIO_STATUS_OK, "namespace broadcast");
    check_status(ferrio_broadcast_to(b, S(to)), FERRIO_STATUS_OK, "broadcast to");
    check_status(ferrio_broadcast_except(b, S(except)), FERRIO_STATUS_OK, "broadcast except");
    check_status(ferrio_broadcast_local(b), FERRIO_STATUS_OK, "broadcast local");
    check_status(ferrio_broadcast_emit(b, FERRIO_STR("news"), FERRIO_STR("[\"to room1 except vip\"]"), NULL, 0), FERRIO_STATUS_OK,
                 "broadcast emit");
    check_status(ferrio_broadcast_emit(b, FERRIO_STR("news"), FERRIO_STR("{oops"), NULL, 0), FERRIO_STATUS_INVALID_JSON,
                 "broadcast emit with invalid JSON");
    ferrio_broadcast_free(b);
}

static void on_relay(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)event, (void)ack;
    char room[64];
    arg_string(args, 0, room, sizeof room);
    ferrio_broadcast *b = NULL;
    check_status(ferrio_socket_broadcast(s, &b), FERRIO_STATUS_OK, "socket broadcast");
    check_status(ferrio_broadcast_to(b, S(room)), FERRIO_STATUS_OK, "socket broadcast to");
    check_status(ferrio_broadcast_volatile(b), FERRIO_STATUS_OK, "broadcast volatile");
    check_status(ferrio_broadcast_emit(b, FERRIO_STR("relayed"), FERRIO_STR("[\"from c1\"]"), NULL, 0), FERRIO_STATUS_OK, "relay emit");
    ferrio_broadcast_free(b);
}

static void on_poll_done(void *ud, ferrio_status status, const ferrio_ack_response *responses, size_t count,
                         size_t expected) {
    check_status(status, FERRIO_STATUS_OK, "broadcast emit_with_ack");
    int yes = 0;
    for (size_t i = 0; i < count; i++) {
        check(responses[i].socket_id.len == 20, "response socket id", responses[i].socket_id.ptr);
        char answer[16];
        if (arg_string(&responses[i].payload, 0, answer, sizeof answer) && strcmp(answer, "yes") == 0) yes++;
    }
    check(yes == 1, "exactly one yes", NULL);
    char json[64];
    snprintf(json, sizeof json, "[%zu,%zu]", count, expected);
    emit1(ud, "poll-result", json);
}

static void on_start_poll(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)event, (void)args, (void)ack;
    ferrio_broadcast *b = NULL;
    check_status(ferrio_namespace_broadcast(nsp_a, &b), FERRIO_STATUS_OK, "poll broadcast");
    ferrio_broadcast_to(b, FERRIO_STR("room1"));
    check_status(ferrio_broadcast_timeout_ms(b, 3000), FERRIO_STATUS_OK, "broadcast timeout");
    check_status(ferrio_broadcast_emit_with_ack(b, FERRIO_STR("poll"), NULL, 0, NULL, 0, on_poll_done, socket_ud(s),
                                                socket_ud_free),
                 FERRIO_STATUS_OK, "broadcast emit_with_ack call");
    ferrio_broadcast_free(b);
}

static void on_fetched(void *ud, ferrio_status status, ferrio_str json) {
    check_status(status, FERRIO_STATUS_OK, "fetch_sockets");
    int ids = 0;
    for (const char *p = json.ptr; (p = strstr(p, "\"id\"")) != NULL; p++) ids++;
    int ok = ids == 1 && strstr(json.ptr, "\"vip\"") && strstr(json.ptr, "\"handshake\"");
    check(ok, "fetch_sockets finds the one socket in vip", json.ptr);
    emit1(ud, "rooms-checked", ok ? "[\"ok\"]" : "[\"fetch_sockets failed\"]");
}

static void on_room_ops(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)event, (void)args, (void)ack;
    size_t size = 0;
    check_status(ferrio_namespace_room_size(nsp_a, FERRIO_STR("room1"), &size), FERRIO_STATUS_OK, "room size");
    check(size == 3, "room1 has 3 sockets", NULL);
    char rooms[512];
    check_status(ferrio_namespace_rooms(nsp_a, false, rooms, sizeof rooms, NULL), FERRIO_STATUS_OK, "room list");
    check(strstr(rooms, "\"room1\":3") && strstr(rooms, "\"vip\":1"), "room list content", rooms);
    check(strstr(rooms, "\"mw:bad\"") == NULL, "a refused socket left the room its middleware joined", rooms);

    ferrio_broadcast *b = NULL;
    ferrio_namespace_broadcast(nsp_a, &b);
    ferrio_broadcast_to(b, FERRIO_STR("room1"));
    check_status(ferrio_broadcast_sockets_join(b, FERRIO_STR("all-in")), FERRIO_STATUS_OK, "sockets_join");
    ferrio_namespace_room_size(nsp_a, FERRIO_STR("all-in"), &size);
    check(size == 3, "sockets_join made 3 sockets join", NULL);
    check_status(ferrio_broadcast_sockets_leave(b, FERRIO_STR("all-in")), FERRIO_STATUS_OK, "sockets_leave");
    ferrio_namespace_room_size(nsp_a, FERRIO_STR("all-in"), &size);
    check(size == 0, "sockets_leave emptied the room", NULL);
    ferrio_broadcast_free(b);

    check_status(ferrio_socket_set_data(s, FERRIO_STR("{\"score\":7}")), FERRIO_STATUS_OK, "set data");
    char *data = read_json(ferrio_socket_data, s, "socket data");
    check(strcmp(data, "{\"score\":7}") == 0, "data round trip", data);
    free(data);
    char *handshake = read_json(ferrio_socket_handshake, s, "handshake");
    check(strstr(handshake, "\"auth\":{") && strstr(handshake, "\"c1\""), "handshake has auth", handshake);
    free(handshake);

    ferrio_namespace_broadcast(nsp_a, &b);
    ferrio_broadcast_to(b, FERRIO_STR("vip"));
    check_status(ferrio_broadcast_fetch_sockets(b, on_fetched, socket_ud(s), socket_ud_free), FERRIO_STATUS_OK,
                 "fetch_sockets call");
    ferrio_broadcast_free(b);
}

static void *api_thread_main(void *arg) {
    ferrio_socket *s = arg;
    emit1(s, "from-thread", "[\"hello from another thread\"]");
    ferrio_broadcast *b = NULL;
    check_status(ferrio_namespace_broadcast(nsp_a, &b), FERRIO_STATUS_OK, "broadcast from a thread");
    ferrio_broadcast_to(b, FERRIO_STR("vip"));
    check_status(ferrio_broadcast_emit(b, FERRIO_STR("thread-broadcast"), FERRIO_STR("[\"to everybody\"]"), NULL, 0),
                 FERRIO_STATUS_OK, "broadcast emit from a thread");
    ferrio_broadcast_free(b);
    check_status(ferrio_server_dispatch(server_a, 0, NULL), FERRIO_STATUS_INVALID_STATE,
                 "dispatch on a thread-mode server");
    ferrio_socket_free(s);
    return NULL;
}

static void on_thread(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)event, (void)args, (void)ack;
    ferrio_socket *copy = NULL;
    check_status(ferrio_socket_clone(s, &copy), FERRIO_STATUS_OK, "clone for a thread");
    check(pthread_create(&api_thread, NULL, api_thread_main, copy) == 0, "thread started", NULL);
    atomic_store(&api_thread_started, 1);
}

static atomic_int saw_no_deadline_end;

/* FERRIO_NO_TIMEOUT: no deadline, so the wait ends with the socket. */
static void on_never_answered(void *ud, ferrio_status status, const ferrio_payload *response) {
    (void)ud;
    check_status(status, FERRIO_STATUS_DISCONNECTED, "an ack without deadline ends with the socket");
    check(response == NULL, "no response on disconnect", NULL);
    atomic_store(&saw_no_deadline_end, 1);
}

static void on_kick_me(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)event, (void)args, (void)ack;
    check_status(ferrio_socket_emit_with_ack(s, FERRIO_STR("never-answered"), NULL, 0, NULL, 0, FERRIO_NO_TIMEOUT,
                                             on_never_answered, ud_new(), ud_free),
                 FERRIO_STATUS_OK, "emit_with_ack without deadline");
    check_status(ferrio_socket_disconnect(s, false), FERRIO_STATUS_OK, "server disconnect");
    check(!ferrio_socket_connected(s), "disconnected at once", NULL);
    check_status(ferrio_socket_emit(s, FERRIO_STR("late"), NULL, 0, NULL, 0), FERRIO_STATUS_SOCKET_CLOSED,
                 "emit after disconnect");
}

static void on_doom(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)s, (void)event, (void)ack;
    char room[64];
    arg_string(args, 0, room, sizeof room);
    ferrio_broadcast *b = NULL;
    check_status(ferrio_namespace_broadcast(nsp_a, &b), FERRIO_STATUS_OK, "doom broadcast");
    ferrio_broadcast_to(b, S(room));
    check_status(ferrio_broadcast_disconnect_sockets(b, false), FERRIO_STATUS_OK, "disconnect_sockets");
    ferrio_broadcast_free(b);
}

static void on_result(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)s, (void)event;
    char name[200], label[240];
    ferrio_str ok = {"", 0};
    arg_string(args, 0, name, sizeof name);
    snprintf(label, sizeof label, "driver: %s", name);
    check(ferrio_payload_arg(args, 1, &ok) == FERRIO_STATUS_OK && str_is(ok, "true"), label, args->json.ptr);
    ack_empty(ack);
}

static void on_done(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)s, (void)event, (void)args;
    ack_empty(ack);
    atomic_store(&done, 1);
}

static int reason_is(ferrio_str reason, const char *text) {
    return reason.len == strlen(text) && memcmp(reason.ptr, text, reason.len) == 0;
}

static void on_disconnecting(void *ud, const ferrio_socket *s, ferrio_str reason) {
    (void)ud;
    if (reason_is(reason, "server namespace disconnect")) {
        char rooms[256];
        check_status(ferrio_socket_rooms(s, rooms, sizeof rooms, NULL), FERRIO_STATUS_OK, "rooms while disconnecting");
        /* c3 (kicked) was in room1, c5 (doomed) in "doomed": either way a room it is leaving. */
        check(strstr(rooms, "\"room1\"") != NULL || strstr(rooms, "\"doomed\"") != NULL,
              "disconnecting still sees the rooms", rooms);
        atomic_store(&saw_kicked_rooms, 1);
    }
}

static void on_disconnect(void *ud, const ferrio_socket *s, ferrio_str reason) {
    (void)ud, (void)s;
    if (reason_is(reason, "server namespace disconnect")) atomic_store(&saw_server_ns_disconnect, 1);
    if (reason_is(reason, "client namespace disconnect")) atomic_store(&saw_client_ns_disconnect, 1);
}

static void on_any(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args) {
    (void)ud, (void)s, (void)args;
    static atomic_int seen;
    if (atomic_fetch_add(&seen, 1) == 0) check(event.len > 0, "on_any sees events", event.ptr);
}

typedef struct {
    const char *name;
    ferrio_event_cb cb;
} handler;

static void on_connection_a(void *ud, const ferrio_socket *s) {
    (void)ud;
    static const handler handlers[] = {
        {"echo", on_echo},           {"bin", on_bin},          {"ack-me", on_ack_me},      {"ack-bad", on_ack_bad},
        {"ask-client", on_ask_client}, {"ask-timeout", on_ask_timeout}, {"join", on_join},
        {"bcast", on_bcast},         {"relay", on_relay},      {"start-poll", on_start_poll},
        {"room-ops", on_room_ops},   {"thread", on_thread},    {"kick-me", on_kick_me},
        {"doom", on_doom},           {"result", on_result},    {"done", on_done},
    };
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        check_status(ferrio_socket_on(s, S(handlers[i].name), handlers[i].cb, ud_new(), ud_free), FERRIO_STATUS_OK,
                     "socket on");
    }
    check_status(ferrio_socket_on_any(s, on_any, ud_new(), ud_free), FERRIO_STATUS_OK, "on_any");
    check_status(ferrio_socket_on_disconnecting(s, on_disconnecting, ud_new(), ud_free), FERRIO_STATUS_OK,
                 "on_disconnecting");
    check_status(ferrio_socket_on_disconnect(s, on_disconnect, ud_new(), ud_free), FERRIO_STATUS_OK, "on_disconnect");
    ferrio_str id, nsp;
    check_status(ferrio_socket_id(s, &id), FERRIO_STATUS_OK, "socket id");
    check(id.len == 20 && id.ptr[20] == 0, "socket id is 20 characters", id.ptr);
    check_status(ferrio_socket_namespace(s, &nsp), FERRIO_STATUS_OK, "socket namespace");
    ferrio_str auth = {"", 0};
    check_status(ferrio_socket_auth(s, &auth), FERRIO_STATUS_OK, "socket auth");
    check(strstr(auth.ptr, "\"token\":\"good\"") && strstr(auth.ptr, "\"name\":\"c"), "auth alone", auth.ptr);
    check_status(ferrio_socket_auth(NULL, &auth), FERRIO_STATUS_NULL_ARGUMENT, "auth of NULL");
    check_status(ferrio_socket_auth(s, NULL), FERRIO_STATUS_NULL_ARGUMENT, "auth into NULL");
    check(strcmp(nsp.ptr, "/") == 0, "main namespace", nsp.ptr);
}

static void middleware(void *ud, const ferrio_socket *s, ferrio_connect_request *request) {
    (void)ud;
    ferrio_str auth;
    check_status(ferrio_socket_auth(s, &auth), FERRIO_STATUS_OK, "auth in middleware");
    check(auth.ptr[auth.len] == 0 && auth.ptr[0] == '{', "auth is a JSON object", auth.ptr);
    /* The socket already belongs to its namespace: a room joined here is visible at once, and an emit to
       it reaches the client right after its CONNECT answer (or never, if it is refused). */
    int refuse = strstr(auth.ptr, "\"token\":\"bad\"") != NULL;
    const char *room = refuse ? "mw:bad" : "mw:good";
    check_status(ferrio_socket_join(s, room, FERRIO_NUL_TERMINATED), FERRIO_STATUS_OK, "join in middleware");
    char rooms[256];
    check_status(ferrio_socket_rooms(s, rooms, sizeof rooms, NULL), FERRIO_STATUS_OK, "rooms in middleware");
    check(strstr(rooms, refuse ? "\"mw:bad\"" : "\"mw:good\"") != NULL, "middleware's room is visible", rooms);
    size_t in_room = 0;
    check_status(ferrio_namespace_room_size(nsp_a, room, FERRIO_NUL_TERMINATED, &in_room), FERRIO_STATUS_OK,
                 "room size in middleware");
    check(in_room >= 1, "the connecting socket counts in its room", NULL);
    char args[512];
    int n = snprintf(args, sizeof args, "[%s]", auth.ptr);
    check(n > 0 && (size_t)n < sizeof args, "auth fits", auth.ptr);
    check_status(ferrio_socket_emit(s, FERRIO_STR("early"), args, FERRIO_NUL_TERMINATED, NULL, 0),
                 FERRIO_STATUS_OK, "emit in middleware");
    if (refuse) {
        check_status(ferrio_connect_reject(request, FERRIO_STR("not allowed"), FERRIO_STR("{\"code\":42}")),
                     FERRIO_STATUS_OK, "reject");
        check_status(ferrio_connect_accept(request), FERRIO_STATUS_ALREADY_USED, "decide twice");
    } else {
        check_status(ferrio_connect_reject(request, FERRIO_STR("x"), FERRIO_STR("{bad json")),
                     FERRIO_STATUS_INVALID_JSON, "reject with invalid JSON data");
        check_status(ferrio_connect_accept(request), FERRIO_STATUS_OK, "accept");
    }
}

/* ---- Dynamic namespaces on server A: names "/dyn-<n>" chosen by a C predicate. ------------------ */

static atomic_int predicate_calls;

static bool dyn_predicate(void *ud, ferrio_str name, ferrio_str auth_json) {
    (void)ud;
    atomic_fetch_add(&predicate_calls, 1);
    return name.len > 5 && strncmp(name.ptr, "/dyn-", 5) == 0 && strstr(auth_json.ptr, "\"pass\"") != NULL;
}

static void on_dyn_hello(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)event, (void)args;
    ferrio_str nsp;
    ferrio_socket_namespace(s, &nsp);
    /* A handle on the child created by the predicate: it broadcasts, registrations go to the parent. */
    ferrio_namespace *child = NULL;
    check_status(ferrio_server_of(server_a, nsp.ptr, nsp.len, &child), FERRIO_STATUS_OK, "of a dynamic child");
    check_status(ferrio_namespace_on_connection(child, on_connection_a, ud_new(), ud_free), FERRIO_STATUS_INVALID_STATE,
                 "register on a dynamic child");
    ferrio_broadcast *b = NULL;
    check_status(ferrio_namespace_broadcast(child, &b), FERRIO_STATUS_OK, "broadcast in a dynamic child");
    check_status(ferrio_broadcast_emit(b, FERRIO_STR("dyn-news"), FERRIO_STR("[\"child\"]"), NULL, 0), FERRIO_STATUS_OK,
                 "emit in a dynamic child");
    ferrio_broadcast_free(b);
    ferrio_namespace_free(child);
    char json[96];
    int len = snprintf(json, sizeof json, "[\"%s\"]", nsp.ptr);
    check_status(ferrio_ack_send(ack, json, (size_t)len, NULL, 0), FERRIO_STATUS_OK, "dynamic ack");
}

static void on_dyn_connection(void *ud, const ferrio_socket *s) {
    (void)ud;
    check_status(ferrio_socket_on(s, FERRIO_STR("dyn-hello"), on_dyn_hello, ud_new(), ud_free), FERRIO_STATUS_OK, "dyn on");
}

/* ---- Server C: connection state recovery (the driver cuts a client's transport and it comes back). */

static ferrio_namespace *nsp_c;
static atomic_int c_connections, c_recovered_connections, c_middleware_calls, c_middleware_saw_recovered;

/* Emits `json` as `event` to `room` of server C's namespace (everybody when room is NULL). */
static void broadcast_c(const char *room, const char *event, const char *json) {
    ferrio_broadcast *b = NULL;
    check_status(ferrio_namespace_broadcast(nsp_c, &b), FERRIO_STATUS_OK, "recovery: broadcast");
    if (room) check_status(ferrio_broadcast_to(b, S(room)), FERRIO_STATUS_OK, "recovery: broadcast to");
    check_status(ferrio_broadcast_emit(b, S(event), S(json), NULL, 0), FERRIO_STATUS_OK, event);
    ferrio_broadcast_free(b);
}

static void on_c_join(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)event;
    char room[64];
    check(arg_string(args, 0, room, sizeof room), "recovery: join argument", args->json.ptr);
    check_status(ferrio_socket_join(s, S(room)), FERRIO_STATUS_OK, "recovery: join");
    ack_empty(ack);
}

static void on_c_set_data(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args,
                          ferrio_ack *ack) {
    (void)ud, (void)event;
    ferrio_str value = {"", 0};
    check_status(ferrio_payload_arg(args, 0, &value), FERRIO_STATUS_OK, "recovery: data argument");
    check_status(ferrio_socket_set_data(s, value.ptr, value.len), FERRIO_STATUS_OK, "recovery: set data");
    ack_empty(ack);
}

/* Acks with {"recovered": bool, "id", "rooms", "data"} as the C side sees the socket. */
static void on_c_state(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)event, (void)args;
    ferrio_str id;
    check_status(ferrio_socket_id(s, &id), FERRIO_STATUS_OK, "recovery: id");
    char rooms[256], data[256], json[700];
    check_status(ferrio_socket_rooms(s, rooms, sizeof rooms, NULL), FERRIO_STATUS_OK, "recovery: rooms");
    check_status(ferrio_socket_data(s, data, sizeof data, NULL), FERRIO_STATUS_OK, "recovery: data");
    int len = snprintf(json, sizeof json, "[{\"recovered\":%s,\"id\":\"%s\",\"rooms\":%s,\"data\":%s}]",
                       ferrio_socket_recovered(s) ? "true" : "false", id.ptr, rooms, data);
    check(len > 0 && (size_t)len < sizeof json, "recovery: state fits", NULL);
    check_status(ferrio_ack_send(ack, json, (size_t)len, NULL, 0), FERRIO_STATUS_OK, "recovery: state ack");
}

/* While the client with id args[0] is away: to its room, to it alone, to a room it is not in, to
 * everybody, to its room again. */
static void on_c_missed(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args,
                        ferrio_ack *ack) {
    (void)ud, (void)s, (void)event;
    char away[32];
    check(arg_string(args, 0, away, sizeof away), "recovery: the id of the socket away", args->json.ptr);
    broadcast_c("team", "room-msg", "[1]");
    broadcast_c(away, "direct", "[2]");
    broadcast_c("elsewhere", "room-msg", "[\"not for it\"]");
    broadcast_c(NULL, "all", "[3]");
    broadcast_c("team", "room-msg", "[4]");
    ack_empty(ack);
}

static void on_c_live(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)s, (void)event, (void)args;
    broadcast_c("team", "room-msg", "[\"live\"]");
    ack_empty(ack);
}

/* Tells the other sockets who left and why (the driver waits for it before it emits). */
static void on_c_disconnect(void *ud, const ferrio_socket *s, ferrio_str reason) {
    (void)ud;
    ferrio_str id;
    if (ferrio_socket_id(s, &id) != FERRIO_STATUS_OK) return;
    char json[160];
    snprintf(json, sizeof json, "[\"%s\",\"%.*s\"]", id.ptr, (int)reason.len, reason.ptr);
    broadcast_c(NULL, "left", json);
}

static void middleware_c(void *ud, const ferrio_socket *s, ferrio_connect_request *request) {
    (void)ud;
    atomic_fetch_add(&c_middleware_calls, 1);
    if (ferrio_socket_recovered(s)) atomic_fetch_add(&c_middleware_saw_recovered, 1);
    check_status(ferrio_connect_accept(request), FERRIO_STATUS_OK, "recovery: accept");
}

static void on_connection_c(void *ud, const ferrio_socket *s) {
    (void)ud;
    bool recovered = ferrio_socket_recovered(s);
    atomic_fetch_add(&c_connections, 1);
    if (recovered) atomic_fetch_add(&c_recovered_connections, 1);
    static const handler handlers[] = {
        {"join", on_c_join}, {"set-data", on_c_set_data}, {"state", on_c_state},
        {"missed", on_c_missed}, {"live", on_c_live},
    };
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        check_status(ferrio_socket_on(s, S(handlers[i].name), handlers[i].cb, ud_new(), ud_free), FERRIO_STATUS_OK,
                     "recovery: socket on");
    }
    check_status(ferrio_socket_on_disconnect(s, on_c_disconnect, ud_new(), ud_free), FERRIO_STATUS_OK,
                 "recovery: on_disconnect");
    emit1(s, "welcome", recovered ? "[true]" : "[false]");
}

/* ---- httpCompression: namespace "/compress" on servers A (default: on, from 1024 bytes), B (off) and
 * D (from 64 bytes). The driver polls it with raw HTTP requests and reads Content-Encoding. */

/* `big` (n): emits `big` with a string of n x's. */
static void on_big(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)event;
    if (ack) ferrio_ack_free(ack);
    ferrio_str arg = {"", 0};
    check_status(ferrio_payload_arg(args, 0, &arg), FERRIO_STATUS_OK, "compression: size argument");
    long n = strtol(arg.ptr, NULL, 10);
    check(n > 0 && n <= 100000, "compression: size in range", arg.ptr);
    if (n <= 0 || n > 100000) return;
    size_t len = (size_t)n + 4; /* ["x…x"] */
    char *json = malloc(len + 1);
    json[0] = '[', json[1] = '"';
    memset(json + 2, 'x', (size_t)n);
    json[len - 2] = '"', json[len - 1] = ']', json[len] = 0;
    check_status(ferrio_socket_emit(s, FERRIO_STR("big"), json, len, NULL, 0), FERRIO_STATUS_OK, "compression: emit");
    free(json);
}

static void on_connection_compress(void *ud, const ferrio_socket *s) {
    (void)ud;
    check_status(ferrio_socket_on(s, FERRIO_STR("big"), on_big, ud_new(), ud_free), FERRIO_STATUS_OK,
                 "compression: socket on");
}

/* The namespace "/compress" of `server`, whose sockets answer `big`; free it with ferrio_namespace_free. */
static ferrio_namespace *compress_namespace(ferrio_server *server) {
    ferrio_namespace *nsp = NULL;
    check_status(ferrio_server_of(server, FERRIO_STR("/compress"), &nsp), FERRIO_STATUS_OK, "of /compress");
    check_status(ferrio_namespace_on_connection(nsp, on_connection_compress, ud_new(), ud_free), FERRIO_STATUS_OK,
                 "on connection (/compress)");
    return nsp;
}

/* ---- Server B: manual dispatch from the main thread. --------------------------------------------- */

static void on_manual(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)s, (void)event;
    check(pthread_equal(pthread_self(), main_thread), "manual mode runs callbacks on the host thread", NULL);
    char json[128];
    int len = snprintf(json, sizeof json, "[\"manual-ok\",%.*s]", (int)(args->json.len - 2), args->json.ptr + 1);
    check_status(ferrio_ack_send(ack, json, (size_t)len, NULL, 0), FERRIO_STATUS_OK, "manual ack");
    check_status(ferrio_server_free(server_b), FERRIO_STATUS_WOULD_DEADLOCK, "free from inside a callback");
    check_status(ferrio_server_dispatch(server_b, 0, NULL), FERRIO_STATUS_WOULD_DEADLOCK, "re-entrant dispatch");
}

static void on_connection_b(void *ud, const ferrio_socket *s) {
    (void)ud;
    check(pthread_equal(pthread_self(), main_thread), "manual connection callback on the host thread", NULL);
    check_status(ferrio_socket_on(s, FERRIO_STR("manual"), on_manual, ud_new(), ud_free), FERRIO_STATUS_OK, "manual on");
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s driver.js\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    verbose = getenv("FERRIO_TEST_VERBOSE") != NULL;
    main_thread = pthread_self();
    printf("ferrio %s\n", ferrio_version());

    /* Server A: callbacks on ferrio's callback thread, or with FERRIO_TEST_DISPATCH=inline on its one
     * network thread (`make test-c` runs both). */
    const char *dispatch = getenv("FERRIO_TEST_DISPATCH");
    bool inline_mode = dispatch && strcmp(dispatch, "inline") == 0;
    printf("server A dispatch: %s\n", inline_mode ? "inline" : "callback thread");
    ferrio_server_options *options = NULL;
    check_status(ferrio_server_options_new(&options), FERRIO_STATUS_OK, "options");
    check_status(ferrio_server_options_set_ping_interval_ms(options, 2000), FERRIO_STATUS_OK, "ping interval");
    check_status(ferrio_server_options_set_ping_timeout_ms(options, 2000), FERRIO_STATUS_OK, "ping timeout");
    check_status(ferrio_server_options_set_max_payload(options, 100000), FERRIO_STATUS_OK, "max payload");
    check_status(ferrio_server_options_set_max_connections(options, 1000), FERRIO_STATUS_OK, "max connections");
    check_status(ferrio_server_options_set_max_connections_per_ip(options, 500), FERRIO_STATUS_OK,
                 "max connections per ip");
    check_status(ferrio_server_options_set_max_namespaces_per_connection(options, 8), FERRIO_STATUS_OK,
                 "max namespaces");
    check_status(ferrio_server_options_set_max_pending_acks(options, 64), FERRIO_STATUS_OK, "max pending acks");
    check_status(ferrio_server_options_set_max_json_depth(options, 64), FERRIO_STATUS_OK, "max json depth");
    check_status(ferrio_server_options_set_max_attachments(options, 10), FERRIO_STATUS_OK, "max attachments");
    check_status(ferrio_server_options_set_max_queued_packets(options, 1024), FERRIO_STATUS_OK, "max queued");
    check_status(ferrio_server_options_set_max_headers(options, 100), FERRIO_STATUS_OK, "max headers");
    check_status(ferrio_server_options_set_max_header_bytes(options, 32768), FERRIO_STATUS_OK, "max header bytes");
    check_status(ferrio_server_options_set_header_read_timeout_ms(options, 10000), FERRIO_STATUS_OK,
                 "header read timeout");
    check_status(ferrio_server_options_set_upgrade_timeout_ms(options, 10000), FERRIO_STATUS_OK, "upgrade timeout");
    check_status(ferrio_server_options_set_allow_upgrades(options, true), FERRIO_STATUS_OK, "allow upgrades");
    /* Setters record; ferrio_server_new checks every option and names the one out of range. */
    check_status(ferrio_server_options_set_rate_limit(options, 0.0, 1), FERRIO_STATUS_OK, "rate limit of 0 recorded");
    check_status(ferrio_server_new(options, &server_a), FERRIO_STATUS_INVALID_ARGUMENT,
                 "rate limit of 0 refused by ferrio_server_new");
    {
        char message[512];
        ferrio_last_error(message, sizeof message, NULL);
        check(strstr(message, "rate_limit") != NULL && server_a == NULL, "the refusal names rate_limit", message);
    }
    check_status(ferrio_server_options_set_rate_limit(options, 10000.0, 1000), FERRIO_STATUS_OK, "rate limit");
    check_status(ferrio_server_options_set_transports(options, true, true), FERRIO_STATUS_OK, "transports");
    check_status(ferrio_server_options_set_cors_any(options, false), FERRIO_STATUS_OK, "cors");
    check_status(ferrio_server_options_set_path(options, FERRIO_STR("/socket.io/")), FERRIO_STATUS_OK, "path");
    if (inline_mode) {
        check_status(ferrio_server_options_set_dispatch_mode(options, FERRIO_DISPATCH_MODE_INLINE), FERRIO_STATUS_OK,
                     "inline mode");
        check_status(ferrio_server_options_set_worker_threads(options, 2), FERRIO_STATUS_OK, "workers");
        check_status(ferrio_server_new(options, &server_a), FERRIO_STATUS_INVALID_ARGUMENT,
                     "inline mode with two network threads");
        check_status(ferrio_server_options_set_worker_threads(options, 1), FERRIO_STATUS_OK, "one worker");
    } else {
        check_status(ferrio_server_options_set_worker_threads(options, 2), FERRIO_STATUS_OK, "workers");
    }
    check_status(ferrio_server_new(options, &server_a), FERRIO_STATUS_OK, "server new");
    check_status(ferrio_server_of(server_a, FERRIO_STR("/"), &nsp_a), FERRIO_STATUS_OK, "of /");
    check_status(ferrio_namespace_use(nsp_a, middleware, ud_new(), ud_free), FERRIO_STATUS_OK, "use");
    check_status(ferrio_namespace_on_connection(nsp_a, on_connection_a, ud_new(), ud_free), FERRIO_STATUS_OK,
                 "on connection");
    ferrio_namespace *dynamic = NULL;
    check_status(ferrio_server_of_dynamic(server_a, dyn_predicate, ud_new(), ud_free, &dynamic), FERRIO_STATUS_OK,
                 "of_dynamic");
    check_status(ferrio_namespace_on_connection(dynamic, on_dyn_connection, ud_new(), ud_free), FERRIO_STATUS_OK,
                 "dynamic on connection");

    /* The admin UI on server A: the driver logs in (and fails to with a wrong password). */
    char hash[64];
    size_t hash_size = 0;
    check_status(ferrio_admin_hash_password(FERRIO_STR("s3cret"), 4, hash, 8, &hash_size), FERRIO_STATUS_BUFFER_TOO_SMALL,
                 "admin hash: buffer too small");
    check(hash_size == 61, "admin hash: size needed", NULL);
    check_status(ferrio_admin_hash_password(FERRIO_STR("s3cret"), 4, hash, sizeof hash, NULL), FERRIO_STATUS_OK, "admin hash");
    ferrio_admin_options *admin = NULL;
    check_status(ferrio_admin_options_new(&admin), FERRIO_STATUS_OK, "admin options");
    check_status(ferrio_server_instrument(server_a, admin), FERRIO_STATUS_INVALID_ARGUMENT,
                 "instrument needs a login choice");
    check_status(ferrio_admin_options_set_basic_auth(admin, FERRIO_STR("admin"), FERRIO_STR("not-a-hash")), FERRIO_STATUS_INVALID_ARGUMENT,
                 "basic auth needs a bcrypt hash");
    check_status(ferrio_admin_options_set_basic_auth(admin, FERRIO_STR("admin"), hash, FERRIO_NUL_TERMINATED), FERRIO_STATUS_OK,
                 "basic auth");
    check_status(ferrio_admin_options_set_mode(admin, 7), FERRIO_STATUS_INVALID_ARGUMENT, "unknown admin mode");
    check_status(ferrio_admin_options_set_mode(admin, FERRIO_ADMIN_MODE_DEVELOPMENT), FERRIO_STATUS_OK, "admin mode");
    check_status(ferrio_admin_options_set_read_only(admin, false), FERRIO_STATUS_OK, "admin read-only");
    check_status(ferrio_admin_options_set_namespace(admin, FERRIO_STR("admin")), FERRIO_STATUS_OK, "admin namespace");
    check_status(ferrio_admin_options_set_server_id(admin, FERRIO_STR("c-test")), FERRIO_STATUS_OK, "admin server id");
    check_status(ferrio_admin_options_set_stats_interval_ms(admin, 500), FERRIO_STATUS_OK, "admin stats interval");
    check_status(ferrio_admin_options_set_ui_dir(admin, FERRIO_STR("/nonexistent")), FERRIO_STATUS_OK, "admin ui dir");
    check_status(ferrio_server_instrument(server_a, admin), FERRIO_STATUS_INVALID_ARGUMENT, "instrument: no UI there");
    ferrio_admin_options_free(admin);
    check_status(ferrio_admin_options_new(&admin), FERRIO_STATUS_OK, "admin options again");
    check_status(ferrio_admin_options_set_basic_auth(admin, FERRIO_STR("admin"), hash, FERRIO_NUL_TERMINATED), FERRIO_STATUS_OK,
                 "basic auth again");
    check_status(ferrio_admin_options_set_server_id(admin, FERRIO_STR("c-test")), FERRIO_STATUS_OK, "admin server id again");
    check_status(ferrio_server_instrument(server_a, admin), FERRIO_STATUS_OK, "instrument");
    check_status(ferrio_server_instrument(server_a, admin), FERRIO_STATUS_INVALID_STATE, "instrument twice");
    ferrio_admin_options_free(admin);

    uint16_t port_a = 0, port_b = 0;
    check_status(ferrio_server_listen(server_a, FERRIO_STR("127.0.0.1"), 0, &port_a), FERRIO_STATUS_OK, "listen A");

    /* Server B: manual dispatch, and no compression of polling responses. */
    check_status(ferrio_server_options_set_dispatch_mode(options, FERRIO_DISPATCH_MODE_MANUAL), FERRIO_STATUS_OK,
                 "manual mode");
    check_status(ferrio_server_options_set_http_compression(NULL, false, 1024), FERRIO_STATUS_NULL_ARGUMENT,
                 "http compression on NULL options");
    check_status(ferrio_server_options_set_http_compression(options, false, 1024), FERRIO_STATUS_OK,
                 "http compression off");
    check_status(ferrio_server_new(options, &server_b), FERRIO_STATUS_OK, "server B new");
    ferrio_server_options_free(options);

    /* Server C: connection state recovery. The setter records; ferrio_server_new checks and names. */
    ferrio_server *server_c = NULL;
    check_status(ferrio_server_options_new(&options), FERRIO_STATUS_OK, "options C");
    check_status(ferrio_server_options_set_connection_state_recovery(NULL, 5000, true, 100),
                 FERRIO_STATUS_NULL_ARGUMENT, "recovery on NULL options");
    check_status(ferrio_server_options_set_connection_state_recovery(options, 0, true, 100), FERRIO_STATUS_OK,
                 "recovery window of 0 recorded");
    check_status(ferrio_server_new(options, &server_c), FERRIO_STATUS_INVALID_ARGUMENT, "recovery window of 0 refused");
    {
        char message[512];
        ferrio_last_error(message, sizeof message, NULL);
        check(strcmp(message, "max_disconnection_duration must be positive") == 0 && server_c == NULL,
              "the refusal names max_disconnection_duration", message);
    }
    check_status(ferrio_server_options_set_connection_state_recovery(options, 5000, true, 0), FERRIO_STATUS_OK,
                 "no stored packets recorded");
    check_status(ferrio_server_new(options, &server_c), FERRIO_STATUS_INVALID_ARGUMENT, "no stored packets refused");
    {
        char message[512];
        ferrio_last_error(message, sizeof message, NULL);
        check(strcmp(message, "max_stored_packets must be at least 1") == 0 && server_c == NULL,
              "the refusal names max_stored_packets", message);
    }
    check_status(ferrio_server_options_set_connection_state_recovery(options, 5000, true, 100), FERRIO_STATUS_OK,
                 "recovery");
    check_status(ferrio_server_new(options, &server_c), FERRIO_STATUS_OK, "server C new");
    ferrio_server_options_free(options);
    check(!ferrio_socket_recovered(NULL), "recovered of NULL is false", NULL);
    check_status(ferrio_server_of(server_c, FERRIO_STR("/"), &nsp_c), FERRIO_STATUS_OK, "of / (C)");
    check_status(ferrio_namespace_use(nsp_c, middleware_c, ud_new(), ud_free), FERRIO_STATUS_OK, "use (C)");
    check_status(ferrio_namespace_on_connection(nsp_c, on_connection_c, ud_new(), ud_free), FERRIO_STATUS_OK,
                 "on connection (C)");
    uint16_t port_c = 0;
    check_status(ferrio_server_listen(server_c, FERRIO_STR("127.0.0.1"), 0, &port_c), FERRIO_STATUS_OK, "listen C");

    /* Server D: polling responses compressed from 64 bytes. */
    ferrio_server *server_d = NULL;
    check_status(ferrio_server_options_new(&options), FERRIO_STATUS_OK, "options D");
    check_status(ferrio_server_options_set_http_compression(options, true, 64), FERRIO_STATUS_OK,
                 "http compression from 64 bytes");
    check_status(ferrio_server_new(options, &server_d), FERRIO_STATUS_OK, "server D new");
    ferrio_server_options_free(options);
    ferrio_namespace *compress_a = compress_namespace(server_a), *compress_b = compress_namespace(server_b),
                     *compress_d = compress_namespace(server_d);
    uint16_t port_d = 0;
    check_status(ferrio_server_listen(server_d, FERRIO_STR("127.0.0.1"), 0, &port_d), FERRIO_STATUS_OK, "listen D");

    ferrio_namespace *nsp_b = NULL;
    check_status(ferrio_server_of(server_b, FERRIO_STR("/"), &nsp_b), FERRIO_STATUS_OK, "of / (B)");
    check_status(ferrio_namespace_on_connection(nsp_b, on_connection_b, ud_new(), ud_free), FERRIO_STATUS_OK,
                 "on connection (B)");
    check_status(ferrio_server_listen(server_b, FERRIO_STR("127.0.0.1"), 0, &port_b), FERRIO_STATUS_OK, "listen B");
    int fd = -1;
    check_status(ferrio_server_fd(server_b, &fd), FERRIO_STATUS_OK, "fd");

    char pa[16], pb[16], pc[16], pd[16];
    snprintf(pa, sizeof pa, "%u", port_a);
    snprintf(pb, sizeof pb, "%u", port_b);
    snprintf(pc, sizeof pc, "%u", port_c);
    snprintf(pd, sizeof pd, "%u", port_d);
    char *child_argv[] = {"node", argv[1], pa, pb, pc, pd, NULL};
    pid_t pid;
    int spawned = posix_spawnp(&pid, "node", NULL, NULL, child_argv, environ) == 0;
    check(spawned, "node driver started", NULL);

    /* The host loop: poll the manual server's fd and dispatch; stop when the driver exits. */
    char detail[64];
    int status = -1, exited = 0;
    size_t dispatched = 0;
    double deadline = now() + 90;
    while (spawned && now() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        int ready = poll(&p, 1, 50);
        if (ready > 0) {
            size_t ran = 0;
            ferrio_status st = ferrio_server_dispatch(server_b, 0, &ran);
            if (st != FERRIO_STATUS_OK) check_status(st, FERRIO_STATUS_OK, "dispatch"); /* counted once below */
            dispatched += ran;
        }
        if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
            exited = 1;
            deadline = now() + 1; /* a last second for the disconnect callbacks */
        }
    }
    if (spawned && !exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        check(0, "driver finished in time", NULL);
    }
    check(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0, "driver exit status 0", NULL);
    check(atomic_load(&done), "driver reported every result", NULL);
    check(dispatched >= 3, "the host loop dispatched the manual server's callbacks", NULL);
    check(atomic_load(&saw_kicked_rooms), "disconnecting saw the kicked socket's rooms", NULL);
    check(atomic_load(&saw_server_ns_disconnect), "disconnect reason: server namespace disconnect", NULL);
    check(atomic_load(&saw_client_ns_disconnect), "disconnect reason: client namespace disconnect", NULL);
    check(atomic_load(&saw_no_deadline_end), "the ack without deadline completed", NULL);
    if (atomic_load(&api_thread_started)) pthread_join(api_thread, NULL);
    /* The recovering client and the one that stayed: three connections, one of them recovered, which the
     * middleware did not see (skip_middlewares). */
    snprintf(detail, sizeof detail, "connections %d, recovered %d", atomic_load(&c_connections),
             atomic_load(&c_recovered_connections));
    check(atomic_load(&c_connections) == 3 && atomic_load(&c_recovered_connections) == 1,
          "recovery: one of three connections was recovered", detail);
    check(atomic_load(&c_middleware_calls) == 2 && atomic_load(&c_middleware_saw_recovered) == 0,
          "recovery: the middlewares were skipped for the recovered socket", NULL);

    check_status(ferrio_server_close(server_a), FERRIO_STATUS_OK, "close A");
    check_status(ferrio_server_free(server_a), FERRIO_STATUS_OK, "free A");
    check_status(ferrio_server_free(server_b), FERRIO_STATUS_OK, "free B");
    check_status(ferrio_server_free(server_c), FERRIO_STATUS_OK, "free C");
    check_status(ferrio_server_free(server_d), FERRIO_STATUS_OK, "free D");
    ferrio_namespace_free(nsp_c);
    ferrio_namespace_free(compress_a);
    ferrio_namespace_free(compress_b);
    ferrio_namespace_free(compress_d);
    ferrio_str name;
    check_status(ferrio_namespace_name(nsp_a, &name), FERRIO_STATUS_OK, "namespace name after free");
    size_t size = 0;
    check_status(ferrio_namespace_room_size(nsp_a, FERRIO_STR("room1"), &size), FERRIO_STATUS_SERVER_GONE,
                 "namespace used after its server was freed");
    ferrio_namespace_free(nsp_a);
    ferrio_namespace_free(nsp_b);
    ferrio_namespace_free(dynamic);
    check(atomic_load(&predicate_calls) >= 2, "the predicate was asked", NULL);
    snprintf(detail, sizeof detail, "registered %d, released %d", atomic_load(&registered), atomic_load(&released));
    check(atomic_load(&registered) > 0 && atomic_load(&registered) == atomic_load(&released),
          "user_data_free called exactly once per registration", detail);

    printf("%d passed, %d failed\n", atomic_load(&passed), atomic_load(&failed));
    return atomic_load(&failed) == 0 ? 0 : 1;
}
