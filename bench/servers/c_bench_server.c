/*
 * The benchmark server with its handlers written in C against libferrio (include/ferrio.h): the same
 * tiny handlers as crates/ferrio-redis/examples/bench_server.rs and bench/servers/socketio.js — `echo` answers the
 * sender, `bcast` goes to every socket. Prints "LISTENING <port>" once bound; stops on SIGINT/SIGTERM.
 *
 *   c_bench_server --port N [--dispatch inline|thread]
 *
 * `inline` (the default here) runs the callbacks on the network thread, as the Rust core runs its handlers;
 * `thread` hands every event to ferrio's callback thread (the library's default).
 */
#define _POSIX_C_SOURCE 200809L
#include "ferrio.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(text) (text), FERRIO_NUL_TERMINATED

/* Made once and reused: every callback runs on the one callback thread. */
static ferrio_broadcast *everybody;

static void on_echo(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)event;
    ferrio_socket_emit(s, S("echo"), args->json.ptr, args->json.len, args->attachments, args->attachment_count);
    if (ack) ferrio_ack_free(ack);
}

static void on_bcast(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)ud, (void)s, (void)event;
    ferrio_broadcast_emit(everybody, S("bcast"), args->json.ptr, args->json.len, args->attachments,
                          args->attachment_count);
    if (ack) ferrio_ack_free(ack);
}

static void on_connection(void *ud, const ferrio_socket *s) {
    (void)ud;
    ferrio_socket_on(s, S("echo"), on_echo, NULL, NULL);
    ferrio_socket_on(s, S("bcast"), on_bcast, NULL, NULL);
}

static int fail(const char *what, ferrio_status status) {
    char message[512];
    ferrio_last_error(message, sizeof message, NULL);
    fprintf(stderr, "%s: %s (%s)\n", what, ferrio_status_str(status), message);
    return 1;
}

int main(int argc, char **argv) {
    unsigned port = 0;
    ferrio_dispatch_mode mode = FERRIO_DISPATCH_MODE_INLINE;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--port") == 0) port = (unsigned)atoi(argv[i + 1]);
        if (strcmp(argv[i], "--dispatch") == 0)
            mode = strcmp(argv[i + 1], "thread") == 0 ? FERRIO_DISPATCH_MODE_THREAD : FERRIO_DISPATCH_MODE_INLINE;
    }

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* inherited by ferrio's threads; taken by sigwait */

    ferrio_server_options *options = NULL;
    ferrio_server *server = NULL;
    ferrio_namespace *nsp = NULL;
    ferrio_status status;
    if ((status = ferrio_server_options_new(&options))) return fail("options", status);
    /* Like the Rust bench server's single-threaded runtime: the server is pinned to one CPU anyway. */
    ferrio_server_options_set_worker_threads(options, 1);
    if ((status = ferrio_server_options_set_dispatch_mode(options, mode))) return fail("dispatch mode", status);
    ferrio_server_options_set_shutdown_grace_ms(options, 1000);
    status = ferrio_server_new(options, &server);
    ferrio_server_options_free(options);
    if (status) return fail("server", status);
    if ((status = ferrio_server_of(server, S("/"), &nsp))) return fail("namespace", status);
    if ((status = ferrio_namespace_broadcast(nsp, &everybody))) return fail("broadcast", status);
    if ((status = ferrio_namespace_on_connection(nsp, on_connection, NULL, NULL))) return fail("connection", status);
    uint16_t bound = 0;
    if ((status = ferrio_server_listen(server, S("127.0.0.1"), (uint16_t)port, &bound))) return fail("listen", status);
    printf("LISTENING %u\n", bound);
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    ferrio_server_free(server);
    ferrio_broadcast_free(everybody);
    ferrio_namespace_free(nsp);
    return 0;
}
