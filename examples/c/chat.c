/*
 * The ferrio chat example in C: the same multi-room chat, event contract and page as examples/rust
 * (see examples/README.md), on libferrio's C API.
 *
 *   make examples && target/examples/chat-c      # from the repository root; then open http://127.0.0.1:3000
 *
 * Environment: PORT (default 3000), FERRIO_STATIC_DIR (default examples/static), FERRIO_CLIENT_DIR
 * (default node_modules/socket.io-client/dist), FERRIO_CHAT_TOKEN (when set, clients must join with
 * auth {token: <it>}; open the page as http://127.0.0.1:3000/?token=<it>). Stops on Ctrl-C or SIGTERM.
 *
 * Every callback runs on ferrio's callback thread, one at a time, so the chat's state needs no lock.
 */
#define _POSIX_C_SOURCE 200809L
#include "ferrio.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A C string variable as ferrio's (pointer, length) pair; literals use FERRIO_STR("..."). */
#define S(text) (text), FERRIO_NUL_TERMINATED
#define MAX_NAME_CHARS 32
#define MAX_TEXT_CHARS 1000
#define MAX_USERS 1024

/* ---- A growable string. ---------------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} buf;

static void buf_put(buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void buf_printf(buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Appends text as a JSON string literal. */
static void buf_json(buf *b, const char *s) {
    buf_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_put(b, esc, 2);
        } else if (c < 0x20) {
            buf_printf(b, "\\u%04x", c);
        } else {
            buf_put(b, s, 1);
        }
    }
    buf_put(b, "\"", 1);
}

/* ---- Just enough JSON reading for the contract's arguments. --------------------------------------- */

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

static void put_utf8(buf *out, unsigned cp) {
    char u[4];
    if (cp < 0x80) {
        u[0] = (char)cp;
        buf_put(out, u, 1);
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3f));
        buf_put(out, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[2] = (char)(0x80 | (cp & 0x3f));
        buf_put(out, u, 3);
    } else {
        u[0] = (char)(0xf0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f));
        buf_put(out, u, 4);
    }
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

/* Reads the JSON string at p into out (decoded); returns the position after it, or NULL. */
static const char *read_string(const char *p, buf *out) {
    if (*p != '"') return NULL;
    out->len = 0;
    buf_put(out, "", 0);
    for (p++; *p && *p != '"'; p++) {
        if (*p != '\\') {
            buf_put(out, p, 1);
            continue;
        }
        p++;
        switch (*p) {
            case 'n': buf_put(out, "\n", 1); break;
            case 't': buf_put(out, "\t", 1); break;
            case 'r': buf_put(out, "\r", 1); break;
            case 'b': buf_put(out, "\b", 1); break;
            case 'f': buf_put(out, "\f", 1); break;
            case 'u': {
                unsigned cp, lo;
                if (!hex4(p + 1, &cp)) return NULL;
                p += 4;
                if (cp >= 0xd800 && cp < 0xdc00 && p[1] == '\\' && p[2] == 'u' && hex4(p + 3, &lo) && lo >= 0xdc00 &&
                    lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                }
                put_utf8(out, cp);
                break;
            }
            case 0: return NULL;
            default: buf_put(out, p, 1);
        }
    }
    return *p == '"' ? p + 1 : NULL;
}

/* Skips one JSON value; returns the position after it, or NULL. */
static const char *skip_value(const char *p) {
    p = skip_ws(p);
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++)
            if (*p == '\\' && p[1]) p++;
        return *p ? p + 1 : NULL;
    }
    if (*p == '{' || *p == '[') {
        int depth = 0;
        for (; *p; p++) {
            if (*p == '"') {
                p = skip_value(p);
                if (!p) return NULL;
                p--;
            } else if (*p == '{' || *p == '[') {
                depth++;
            } else if (*p == '}' || *p == ']') {
                if (--depth == 0) return p + 1;
            }
        }
        return NULL;
    }
    while (*p && *p != ',' && *p != '}' && *p != ']') p++;
    return p;
}

/* The string member `key` of the object at p, decoded into out; 0 when absent or not a string. */
static int member_string(const char *p, const char *key, buf *out) {
    p = skip_ws(p);
    if (*p != '{') return 0;
    p = skip_ws(p + 1);
    buf name = {0};
    int found = 0;
    while (*p == '"') {
        p = read_string(p, &name);
        if (!p) break;
        p = skip_ws(p);
        if (*p != ':') break;
        p = skip_ws(p + 1);
        if (strcmp(name.p, key) == 0) {
            found = *p == '"' && read_string(p, out) != NULL;
            break;
        }
        p = skip_value(p);
        if (!p) break;
        p = skip_ws(p);
        if (*p == ',') p = skip_ws(p + 1);
    }
    free(name.p);
    return found;
}

/* ---- The chat. ------------------------------------------------------------------------------------ */

typedef struct {
    char id[21];
    char *nick; /* NULL until picked */
} user;

static user users[MAX_USERS];
static size_t user_count;
static ferrio_namespace *main_nsp;
static char *last_rooms, *last_users;

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static user *find_user(const char *id) {
    for (size_t i = 0; i < user_count; i++)
        if (strcmp(users[i].id, id) == 0) return &users[i];
    return NULL;
}

static void socket_id(const ferrio_socket *s, char out[21]) {
    ferrio_str id;
    ferrio_socket_id(s, &id);
    snprintf(out, 21, "%s", id.ptr);
}

static size_t utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80) n++;
    return n;
}

static int has_control(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) return 1;
        if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) return 1; /* U+0080..U+009F */
    }
    return 0;
}

/* Trims in place (ASCII white space); returns the start. */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

static int looks_like_socket_id(const char *s) {
    if (strlen(s) != 20) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_'))
            return 0;
    return 1;
}

/* Validates a nickname or room name; returns an error message or NULL. */
static const char *validate_name(const char *name, const char *what, char *error, size_t cap) {
    if (!*name) snprintf(error, cap, "the %s must not be empty", what);
    else if (utf8_chars(name) > MAX_NAME_CHARS) snprintf(error, cap, "the %s is longer than %d characters", what, MAX_NAME_CHARS);
    else if (has_control(name)) snprintf(error, cap, "the %s contains control characters", what);
    else return NULL;
    return error;
}

static const char *validate_text(char *text, char *error, size_t cap) {
    if (!*text) snprintf(error, cap, "the message is empty");
    else if (utf8_chars(text) > MAX_TEXT_CHARS) snprintf(error, cap, "the message is longer than %d characters", MAX_TEXT_CHARS);
    else return NULL;
    return error;
}

static int in_room(const ferrio_socket *s, const char *room) {
    char rooms[8192];
    if (ferrio_socket_rooms(s, rooms, sizeof rooms, NULL) != FERRIO_STATUS_OK) return 0;
    buf quoted = {0};
    buf_json(&quoted, room);
    int found = strstr(rooms, quoted.p) != NULL;
    free(quoted.p);
    return found;
}

static void emit_json(const ferrio_socket *s, const char *event, const buf *args) {
    ferrio_socket_emit(s, S(event), args->p, args->len, NULL, 0);
}

static void room_emit(const char *room, const char *event, const buf *args) {
    ferrio_broadcast *b = NULL;
    if (ferrio_namespace_broadcast(main_nsp, &b) != FERRIO_STATUS_OK) return;
    ferrio_broadcast_to(b, S(room));
    ferrio_broadcast_emit(b, S(event), args->p, args->len, NULL, 0);
    ferrio_broadcast_free(b);
}

static void notice(const char *room, const char *nick, const char *what) {
    buf text = {0}, args = {0};
    buf_printf(&text, "%s %s", nick, what);
    buf_put(&args, "[{\"room\":", 9);
    buf_json(&args, room);
    buf_put(&args, ",\"text\":", 8);
    buf_json(&args, text.p);
    buf_printf(&args, ",\"time\":%lld}]", now_ms());
    room_emit(room, "notice", &args);
    free(text.p);
    free(args.p);
}

/* [[{name, count}]]: the public rooms, sorted by name (ferrio's list is sorted). */
static void room_list(buf *out) {
    size_t needed = 0;
    ferrio_namespace_rooms(main_nsp, false, NULL, 0, &needed);
    char *rooms = malloc(needed ? needed : 1);
    buf_put(out, "[[", 2);
    if (ferrio_namespace_rooms(main_nsp, false, rooms, needed, NULL) == FERRIO_STATUS_OK) {
        const char *p = skip_ws(rooms) + 1; /* {"room":count,...} */
        buf name = {0};
        int first = 1;
        while ((p = skip_ws(p)) && *p == '"' && (p = read_string(p, &name)) != NULL) {
            p = skip_ws(p) + 1; /* ':' */
            long count = strtol(p, (char **)&p, 10);
            if (!first) buf_put(out, ",", 1);
            first = 0;
            buf_put(out, "{\"name\":", 8);
            buf_json(out, name.p);
            buf_printf(out, ",\"count\":%ld}", count);
            p = skip_ws(p);
            if (*p == ',') p++;
        }
        free(name.p);
    }
    buf_put(out, "]]", 2);
    free(rooms);
}

static int by_nick(const void *a, const void *b) {
    const user *x = *(user *const *)a, *y = *(user *const *)b;
    int c = strcmp(x->nick, y->nick);
    return c ? c : strcmp(x->id, y->id);
}

/* [[{id, nick}]]: users with a nickname, sorted by nickname. */
static void user_list(buf *out) {
    user *sorted[MAX_USERS];
    size_t n = 0;
    for (size_t i = 0; i < user_count; i++)
        if (users[i].nick) sorted[n++] = &users[i];
    qsort(sorted, n, sizeof sorted[0], by_nick);
    buf_put(out, "[[", 2);
    for (size_t i = 0; i < n; i++) {
        if (i) buf_put(out, ",", 1);
        buf_put(out, "{\"id\":", 6);
        buf_json(out, sorted[i]->id);
        buf_put(out, ",\"nick\":", 8);
        buf_json(out, sorted[i]->nick);
        buf_put(out, "}", 1);
    }
    buf_put(out, "]]", 2);
}

/* Pushes the lists to everybody when they changed since the last push. */
static void push_presence(void) {
    buf rooms = {0}, list = {0};
    room_list(&rooms);
    if (!last_rooms || strcmp(last_rooms, rooms.p) != 0) {
        ferrio_broadcast *b = NULL;
        if (ferrio_namespace_broadcast(main_nsp, &b) == FERRIO_STATUS_OK) {
            ferrio_broadcast_emit(b, FERRIO_STR("rooms"), rooms.p, rooms.len, NULL, 0);
            ferrio_broadcast_free(b);
        }
        free(last_rooms);
        last_rooms = rooms.p;
    } else {
        free(rooms.p);
    }
    user_list(&list);
    if (!last_users || strcmp(last_users, list.p) != 0) {
        ferrio_broadcast *b = NULL;
        if (ferrio_namespace_broadcast(main_nsp, &b) == FERRIO_STATUS_OK) {
            ferrio_broadcast_emit(b, FERRIO_STR("users"), list.p, list.len, NULL, 0);
            ferrio_broadcast_free(b);
        }
        free(last_users);
        last_users = list.p;
    } else {
        free(list.p);
    }
}

/* Answers the ack: [{ok: true, ...fields}] or [{error}]. `fields` is JSON members text or "". */
static void answer(ferrio_ack *ack, const char *error, const char *fields) {
    if (!ack) return;
    buf args = {0};
    if (error) {
        buf_put(&args, "[{\"error\":", 10);
        buf_json(&args, error);
        buf_put(&args, "}]", 2);
    } else {
        buf_printf(&args, "[{\"ok\":true%s%s}]", *fields ? "," : "", fields);
    }
    ferrio_ack_send(ack, args.p, args.len, NULL, 0);
    free(args.p);
}

typedef const char *(*action)(const ferrio_socket *s, user *me, const char *arg, buf *fields, char *error,
                              size_t cap);

static const char *do_nick(const ferrio_socket *s, user *me, const char *arg, buf *fields, char *error, size_t cap) {
    (void)s;
    buf raw = {0};
    if (!read_string(arg, &raw)) {
        free(raw.p);
        return "the nickname must be a string";
    }
    char *nick = trim(raw.p);
    const char *bad = validate_name(nick, "nickname", error, cap);
    for (size_t i = 0; !bad && i < user_count; i++) {
        if (&users[i] != me && users[i].nick && strcasecmp(users[i].nick, nick) == 0) bad = "that nickname is already taken";
    }
    if (!bad) {
        free(me->nick);
        me->nick = strdup(nick);
        buf_put(fields, "\"id\":", 5);
        buf_json(fields, me->id);
        buf_put(fields, ",\"nick\":", 8);
        buf_json(fields, nick);
    }
    free(raw.p);
    return bad;
}

static const char *do_join(const ferrio_socket *s, user *me, const char *arg, buf *fields, char *error, size_t cap) {
    if (!me->nick) return "pick a nickname first";
    buf raw = {0};
    const char *bad = NULL;
    if (!read_string(arg, &raw)) {
        bad = "the room name must be a string";
    } else {
        char *room = trim(raw.p);
        bad = validate_name(room, "room name", error, cap);
        if (!bad && looks_like_socket_id(room)) bad = "that room name is reserved";
        if (!bad) {
            if (!in_room(s, room)) {
                ferrio_socket_join(s, S(room));
                notice(room, me->nick, "joined");
            }
            buf_put(fields, "\"room\":", 7);
            buf_json(fields, room);
        }
    }
    free(raw.p);
    return bad;
}

static const char *do_leave(const ferrio_socket *s, user *me, const char *arg, buf *fields, char *error, size_t cap) {
    (void)error, (void)cap;
    if (!me->nick) return "pick a nickname first";
    buf room = {0};
    const char *bad = NULL;
    if (!read_string(arg, &room)) {
        bad = "the room name must be a string";
    } else if (looks_like_socket_id(room.p) || !in_room(s, room.p)) {
        bad = "you are not in that room";
    } else {
        ferrio_socket_leave(s, S(room.p));
        notice(room.p, me->nick, "left");
        buf_put(fields, "\"room\":", 7);
        buf_json(fields, room.p);
    }
    free(room.p);
    return bad;
}

static const char *do_message(const ferrio_socket *s, user *me, const char *arg, buf *fields, char *error, size_t cap) {
    (void)fields;
    if (!me->nick) return "pick a nickname first";
    if (*skip_ws(arg) != '{') return "expected {room, text}";
    buf room = {0}, raw = {0};
    const char *bad = NULL;
    if (!member_string(arg, "room", &room)) bad = "room must be a string";
    else if (!member_string(arg, "text", &raw)) bad = "text must be a string";
    else if (!(bad = validate_text(trim(raw.p), error, cap)) && (looks_like_socket_id(room.p) || !in_room(s, room.p)))
        bad = "join the room first";
    if (!bad) {
        buf args = {0};
        buf_put(&args, "[{\"room\":", 9);
        buf_json(&args, room.p);
        buf_put(&args, ",\"from\":", 8);
        buf_json(&args, me->nick);
        buf_put(&args, ",\"text\":", 8);
        buf_json(&args, trim(raw.p));
        buf_printf(&args, ",\"time\":%lld}]", now_ms());
        room_emit(room.p, "message", &args);
        free(args.p);
    }
    free(room.p);
    free(raw.p);
    return bad;
}

static const char *do_private(const ferrio_socket *s, user *me, const char *arg, buf *fields, char *error, size_t cap) {
    (void)fields;
    if (!me->nick) return "pick a nickname first";
    if (*skip_ws(arg) != '{') return "expected {to, text}";
    buf to = {0}, raw = {0};
    const char *bad = NULL;
    user *target = NULL;
    if (!member_string(arg, "to", &to)) bad = "to must be a socket id";
    else if (!member_string(arg, "text", &raw)) bad = "text must be a string";
    else if (!(bad = validate_text(trim(raw.p), error, cap)) &&
             (!looks_like_socket_id(to.p) || !(target = find_user(to.p)) || !target->nick))
        bad = "no such user";
    if (!bad) {
        buf args = {0};
        buf_put(&args, "[{\"from\":{\"id\":", 15);
        buf_json(&args, me->id);
        buf_put(&args, ",\"nick\":", 8);
        buf_json(&args, me->nick);
        buf_put(&args, "},\"to\":{\"id\":", 13);
        buf_json(&args, target->id);
        buf_put(&args, ",\"nick\":", 8);
        buf_json(&args, target->nick);
        buf_put(&args, "},\"text\":", 9);
        buf_json(&args, trim(raw.p));
        buf_printf(&args, ",\"time\":%lld}]", now_ms());
        /* The target and the sender (once, should they be the same). */
        ferrio_broadcast *b = NULL;
        ferrio_namespace_broadcast(main_nsp, &b);
        ferrio_broadcast_to(b, S(target->id));
        ferrio_broadcast_to(b, S(me->id));
        ferrio_broadcast_emit(b, FERRIO_STR("private"), args.p, args.len, NULL, 0);
        ferrio_broadcast_free(b);
        free(args.p);
        (void)s;
    }
    free(to.p);
    free(raw.p);
    return bad;
}

/* One event handler for the five actions; the action is the user data. */
static void on_action(void *ud, const ferrio_socket *s, ferrio_str event, const ferrio_payload *args, ferrio_ack *ack) {
    (void)event;
    char id[21], error[128];
    socket_id(s, id);
    user *me = find_user(id);
    if (!me) {
        if (ack) ferrio_ack_free(ack);
        return;
    }
    /* The contract's one argument, as its own NUL-terminated JSON text ("null" when none was sent). */
    ferrio_str arg = {"null", 4};
    size_t count = 0;
    if (ferrio_payload_arg_count(args, &count) == FERRIO_STATUS_OK && count > 0) ferrio_payload_arg(args, 0, &arg);
    buf fields = {0};
    buf_put(&fields, "", 0);
    const char *bad = ((action)ud)(s, me, arg.ptr, &fields, error, sizeof error);
    answer(ack, bad, fields.p);
    free(fields.p);
    push_presence();
}

static void on_disconnecting(void *ud, const ferrio_socket *s, ferrio_str reason) {
    (void)ud, (void)reason;
    char id[21], rooms[8192];
    socket_id(s, id);
    user *me = find_user(id);
    if (!me || !me->nick || ferrio_socket_rooms(s, rooms, sizeof rooms, NULL) != FERRIO_STATUS_OK) return;
    /* The rooms are still visible here; ferrio lists them sorted. */
    buf room = {0};
    const char *p = skip_ws(rooms) + 1;
    while ((p = skip_ws(p)) && *p == '"' && (p = read_string(p, &room)) != NULL) {
        if (strcmp(room.p, id) != 0) notice(room.p, me->nick, "is leaving");
        p = skip_ws(p);
        if (*p == ',') p++;
    }
    free(room.p);
}

static void on_disconnect(void *ud, const ferrio_socket *s, ferrio_str reason) {
    (void)ud, (void)reason;
    char id[21];
    socket_id(s, id);
    user *me = find_user(id);
    if (me) {
        free(me->nick);
        *me = users[--user_count];
    }
    push_presence();
}

/* FERRIO_CHAT_TOKEN, or NULL: anybody may connect. */
static const char *required_token;

/* Compares without stopping at the first difference, so the time taken says nothing about the token. */
static int same_secret(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++) diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

/* Connect middleware (with FERRIO_CHAT_TOKEN): lets a client in when its auth carries the token, as
 * io(url, {auth: {token}}) sends it; the page passes its URL's ?token=. */
static void check_token(void *ud, const ferrio_socket *s, ferrio_connect_request *request) {
    (void)ud;
    ferrio_str auth;
    buf token = {0};
    int ok = ferrio_socket_auth(s, &auth) == FERRIO_STATUS_OK && member_string(auth.ptr, "token", &token) &&
             same_secret(token.p, required_token);
    free(token.p);
    if (ok) ferrio_connect_accept(request);
    else ferrio_connect_reject(request, FERRIO_STR("invalid token"), NULL, 0);
}

static void on_connection(void *ud, const ferrio_socket *s) {
    (void)ud;
    if (user_count == MAX_USERS) {
        ferrio_socket_disconnect(s, true);
        return;
    }
    user *me = &users[user_count++];
    socket_id(s, me->id);
    me->nick = NULL;
    /* The newcomer gets the current lists; later changes reach everybody. */
    buf rooms = {0}, list = {0};
    room_list(&rooms);
    user_list(&list);
    emit_json(s, "rooms", &rooms);
    emit_json(s, "users", &list);
    free(rooms.p);
    free(list.p);
    static const struct {
        const char *name;
        action run;
    } actions[] = {
        {"nick", do_nick}, {"join", do_join}, {"leave", do_leave}, {"message", do_message}, {"private", do_private},
    };
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        /* A function pointer as user data, with nothing to free. */
        ferrio_socket_on(s, S(actions[i].name), on_action, (void *)(size_t)actions[i].run, NULL);
    }
    ferrio_socket_on_disconnecting(s, on_disconnecting, NULL, NULL);
    ferrio_socket_on_disconnect(s, on_disconnect, NULL, NULL);
}

static int fail(const char *what, ferrio_status status) {
    char message[512];
    ferrio_last_error(message, sizeof message, NULL);
    fprintf(stderr, "%s: %s (%s)\n", what, ferrio_status_str(status), message);
    return 1;
}

int main(void) {
    const char *port_env = getenv("PORT");
    const char *static_dir = getenv("FERRIO_STATIC_DIR");
    const char *client_dir = getenv("FERRIO_CLIENT_DIR");
    int port = port_env ? atoi(port_env) : 3000;
    if (!static_dir) static_dir = "examples/static";
    if (!client_dir) client_dir = "node_modules/socket.io-client/dist";
    required_token = getenv("FERRIO_CHAT_TOKEN");
    if (required_token && !*required_token) required_token = NULL;

    /* Signals are taken with sigwait below, so every thread ferrio starts inherits them blocked. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    ferrio_server_options *options = NULL;
    ferrio_server *server = NULL;
    ferrio_status status;
    if ((status = ferrio_server_options_new(&options)) != FERRIO_STATUS_OK) return fail("options", status);
    ferrio_server_options_set_static_dir(options, S(static_dir));
    ferrio_server_options_set_client_dir(options, S(client_dir));
    status = ferrio_server_new(options, &server);
    ferrio_server_options_free(options);
    if (status != FERRIO_STATUS_OK) return fail("server", status);
    ferrio_server_of(server, FERRIO_STR("/"), &main_nsp);
    if (required_token) ferrio_namespace_use(main_nsp, check_token, NULL, NULL);
    ferrio_namespace_on_connection(main_nsp, on_connection, NULL, NULL);
    uint16_t bound = 0;
    if ((status = ferrio_server_listen(server, FERRIO_STR("127.0.0.1"), (uint16_t)port, &bound)) != FERRIO_STATUS_OK) {
        return fail("listen", status);
    }
    printf("chat (C, ferrio %s) on http://127.0.0.1:%u\n", ferrio_version(), bound);
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    ferrio_server_free(server);
    ferrio_namespace_free(main_nsp);
    for (size_t i = 0; i < user_count; i++) free(users[i].nick);
    free(last_rooms);
    free(last_users);
    return 0;
}
