/*
 * The packaging test's contract server in C (see contract.mjs), built outside the repository against an
 * installed libferrio by tests/dist/cmake (shared and static) and tests/dist/pkgconfig.
 * Prints "listening PORT ..." once bound to a free port on 127.0.0.1; stops on SIGTERM or SIGINT.
 */
#define _POSIX_C_SOURCE 200809L
#include <ferrio.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(text) (text), FERRIO_NUL_TERMINATED

/* The first argument of an event, when it is a plain JSON string (no escapes): enough for room names. */
static int first_string(ferrio_str json, char *out, size_t cap) {
    const char *p = memchr(json.ptr, '"', json.len);
    if (!p) return 0;
    const char *end = memchr(p + 1, '"', json.len - (size_t)(p + 1 - json.ptr));
    if (!end || (size_t)(end - p - 1) >= cap || memchr(p + 1, '\\', (size_t)(end - p - 1))) return 0;
    memcpy(out, p + 1, (size_t)(end - p - 1));
    out[end - p - 1] = 0;
    return 1;
}

/* join(room) -> ack(room) */
static void on_join(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args,
                    ferrio_ack *ack) {
    (void)ud, (void)event;
    char room[128];
    if (first_string(args->json, room, sizeof room)) ferrio_socket_join(s, S(room));
    if (ack) ferrio_ack_send(ack, args->json.ptr, args->json.len, NULL, 0);
}

/* say(room, text) -> said(room, text) to the room but the sender; ack("ok") */
static void on_say(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args,
                   ferrio_ack *ack) {
    (void)ud, (void)event;
    char room[128];
    ferrio_broadcast *to = NULL;
    if (first_string(args->json, room, sizeof room) && ferrio_socket_broadcast(s, &to) == FERRIO_STATUS_OK) {
        ferrio_broadcast_to(to, S(room));
        ferrio_broadcast_emit(to, S("said"), args->json.ptr, args->json.len, args->attachments,
                              args->attachment_count);
        ferrio_broadcast_free(to);
    }
    if (ack) ferrio_ack_send(ack, S("[\"ok\"]"), NULL, 0);
}

/* bin(bytes) -> ack({len, data: the bytes reversed}) */
static void on_bin(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args,
                   ferrio_ack *ack) {
    (void)ud, (void)s, (void)event;
    if (!ack) return;
    if (args->attachment_count != 1) {
        ferrio_ack_send(ack, S("[{\"error\":\"one binary argument expected\"}]"), NULL, 0);
        return;
    }
    ferrio_bytes in = args->attachments[0];
    uint8_t *reversed = malloc(in.len ? in.len : 1);
    if (!reversed) abort();
    for (size_t i = 0; i < in.len; i++) reversed[i] = in.ptr[in.len - 1 - i];
    char json[96];
    snprintf(json, sizeof json, "[{\"len\":%zu,\"data\":{\"_placeholder\":true,\"num\":0}}]", in.len);
    ferrio_bytes out = {reversed, in.len};
    ferrio_ack_send(ack, S(json), &out, 1);
    free(reversed);
}

static void on_connection(void *ud, const ferrio_socket *s) {
    (void)ud;
    ferrio_socket_on(s, S("join"), on_join, NULL, NULL);
    ferrio_socket_on(s, S("say"), on_say, NULL, NULL);
    ferrio_socket_on(s, S("bin"), on_bin, NULL, NULL);
}

int main(void) {
    /* Taken with sigwait below, so every thread ferrio starts inherits them blocked. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    ferrio_server *server = NULL;
    ferrio_namespace *nsp = NULL;
    uint16_t port = 0;
    if (ferrio_server_new(NULL, &server) != FERRIO_STATUS_OK || ferrio_server_of(server, S("/"), &nsp) != FERRIO_STATUS_OK ||
        ferrio_namespace_on_connection(nsp, on_connection, NULL, NULL) != FERRIO_STATUS_OK ||
        ferrio_server_listen(server, S("127.0.0.1"), 0, &port) != FERRIO_STATUS_OK) {
        char message[512];
        ferrio_last_error(message, sizeof message, NULL);
        fprintf(stderr, "ferrio: %s\n", message);
        return 1;
    }
    printf("listening %u ferrio %s (C)\n", port, ferrio_version());
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    ferrio_server_free(server);
    ferrio_namespace_free(nsp);
    return 0;
}
