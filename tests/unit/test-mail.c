/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mail subsystem's parts (docs/mail.md): templates, the rendered
 * message (RFC 5322 headers, RFC 2047 encoded words, quoted-printable),
 * Message-IDs, the outbox records in a real store, and the three ways of
 * delivery — a spool directory, SMTP against an in-process server, and a
 * sendmail-compatible command. The delivery through a real mail transfer
 * agent is tests/integration/test-mail.sh. */

#include "test-util.h"
#include "config.h"
#include "deliver.h"
#include "macro.h"
#include "message.h"
#include "outbox.h"
#include "store.h"
#include "templates.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/test-mail-XXXXXX";

static char *path_in(const char *name) {
        char *p;
        if (asprintf(&p, "%s/%s", dir, name) < 0)
                abort();
        return p;
}

static void write_text(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
                perror(path);
                exit(EXIT_FAILURE);
        }
}

static char *read_text(const char *path) {
        char *buf = NULL;
        size_t n = 0;
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        if (getdelim(&buf, &n, 0, f) < 0) {
                free(buf);
                buf = strdup("");
        }
        fclose(f);
        return buf;
}

/* ---- decoding, to check the encoders by their inverse ---- */

/* The unfolded value of header `name` of a message (or of a lone header),
 * with RFC 2047 encoded words decoded. */
static char *header_decoded(const char *msg, const char *name) {
        size_t nl = strlen(name);
        const char *p = msg;
        char *out = calloc(1, strlen(msg) + 1), *w = out;

        for (;;) {
                if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
                        break;
                p = strstr(p, "\r\n");
                if (!p || p[2] == '\r') {
                        free(out);
                        return NULL;
                }
                p += 2;
        }
        p += nl + 1;
        while (*p == ' ')
                p++;
        while (*p && !(p[0] == '\r' && p[1] == '\n' && p[2] != ' ' && p[2] != '\t')) {
                if (p[0] == '\r' && p[1] == '\n') {
                        /* Unfold; whitespace between two encoded words
                         * disappears (RFC 2047 6.2). */
                        p += 3;
                        if (w > out && strncmp(p, "=?", 2) == 0 && w[-1] == '\x01')
                                continue;
                        *w++ = ' ';
                        continue;
                }
                if (strncasecmp(p, "=?utf-8?B?", 10) == 0) {
                        const char *end = strstr(p + 10, "?=");
                        size_t bin_len = 0;
                        if (!end)
                                break;
                        if (w > out && w[-1] == ' ' && w - 1 > out && w[-2] == '\x01')
                                w--;
                        sodium_base642bin((unsigned char *) w, strlen(msg), p + 10, (size_t) (end - p - 10), NULL,
                                          &bin_len, NULL, sodium_base64_VARIANT_ORIGINAL);
                        w += bin_len;
                        *w++ = '\x01';  /* marks the end of an encoded word */
                        p = end + 2;
                        continue;
                }
                *w++ = *p++;
        }
        *w = 0;
        /* Drop the markers. */
        w = out;
        for (char *r = out; *r; r++)
                if (*r != '\x01')
                        *w++ = *r;
        *w = 0;
        return out;
}

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Quoted-printable back to text with LF line ends. */
static char *qp_decode(const char *s) {
        char *out = malloc(strlen(s) + 1), *w = out;

        while (*s) {
                if (s[0] == '=' && s[1] == '\r' && s[2] == '\n')
                        s += 3;
                else if (s[0] == '=' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
                        *w++ = (char) (hexval(s[1]) * 16 + hexval(s[2]));
                        s += 3;
                } else if (s[0] == '\r' && s[1] == '\n') {
                        *w++ = '\n';
                        s += 2;
                } else
                        *w++ = *s++;
        }
        *w = 0;
        return out;
}

/* Every line ends in CRLF and is at most max characters. */
static bool lines_ok(const char *s, size_t max) {
        for (const char *line = s; *line;) {
                const char *end = strstr(line, "\r\n");
                if (!end || (size_t) (end - line) > max || memchr(line, '\n', (size_t) (end - line)))
                        return false;
                line = end + 2;
        }
        return true;
}

/* ---- addresses, headers, body ---- */

static void test_address(void) {
        mail_address a;

        CHECK_INT(mail_address_parse("nexalix@localhost", &a), 0);
        CHECK_STR(a.addr, "nexalix@localhost");
        CHECK_STR(a.display, "");
        CHECK_INT(mail_address_parse("Identity <id@example.org>", &a), 0);
        CHECK_STR(a.addr, "id@example.org");
        CHECK_STR(a.display, "Identity");
        CHECK_INT(mail_address_parse("\"Cuentas Núñez\" <id@example.org>", &a), 0);
        CHECK_STR(a.display, "Cuentas Núñez");
        CHECK_INT(mail_address_parse("no-at-sign", &a), -EINVAL);
        CHECK_INT(mail_address_parse("a@b\r\nBcc: x@y", &a), -EINVAL);
        CHECK_INT(mail_address_parse("a b@example.org", &a), -EINVAL);
        CHECK_INT(mail_address_parse("Name <a@example.org", &a), -EINVAL);
}

static void test_headers(void) {
        const char *long_ascii = "Reset the password of your account at a very long organisation name that goes "
                                 "on and on well past seventy-eight characters";
        const char *spanish = "Su cuenta de Ñandú está lista: elija su contraseña ahora mismo, por favor, "
                              "antes de que caduque el enlace — ¡gracias!";
        char *h, *d;

        CHECK_INT(mail_header_format("Subject", "Hello there", false, &h), 0);
        CHECK_STR(h, "Subject: Hello there");
        free(h);

        /* Plain ASCII folds at spaces, each line within 78. */
        CHECK_INT(mail_header_format("Subject", long_ascii, false, &h), 0);
        CHECK(strstr(h, "\r\n ") != NULL);
        {
                char *full;
                CHECK(asprintf(&full, "%s\r\n\r\n", h) > 0);
                CHECK(lines_ok(full, 78));
                d = header_decoded(full, "Subject");
                CHECK_STR(d, long_ascii);
                free(d);
                free(full);
        }
        free(h);

        /* Non-ASCII: encoded words, each at most 75 characters, lines at
         * most 76, and splitting never cuts a character. */
        CHECK_INT(mail_header_format("Subject", spanish, false, &h), 0);
        CHECK(strncmp(h, "Subject: =?utf-8?B?", 19) == 0);
        {
                char *full;
                CHECK(asprintf(&full, "%s\r\n\r\n", h) > 0);
                CHECK(lines_ok(full, 76));
                d = header_decoded(full, "Subject");
                CHECK_STR(d, spanish);
                free(d);
                free(full);
        }
        for (const char *w = strstr(h, "=?"); w; w = strstr(w + 2, "=?")) {
                const char *end = strstr(w, "?=");
                size_t bin_len = 0;
                unsigned char bin[100];
                CHECK(end && end + 2 - w <= 75);
                CHECK_INT(sodium_base642bin(bin, sizeof(bin), w + 10, (size_t) (end - w - 10), NULL, &bin_len, NULL,
                                            sodium_base64_VARIANT_ORIGINAL), 0);
                /* Each word alone is whole UTF-8. */
                CHECK(bin_len > 0 && (bin[0] & 0xc0) != 0x80);
                w = end;
        }
        free(h);

        /* A value cannot add a header. */
        CHECK_INT(mail_header_format("Subject", "Hi\r\nBcc: victim@example.org", false, &h), 0);
        CHECK(!strstr(h, "\r\nBcc"));
        CHECK(!strchr(h, '\n'));
        free(h);

        /* "=?" in plain text is encoded, so no reader takes it for a word. */
        CHECK_INT(mail_header_format("Subject", "a =?x?= b", false, &h), 0);
        CHECK(strncmp(h, "Subject: =?utf-8?B?", 19) == 0);
        free(h);

        /* Phrases: atext as is, specials quoted, non-ASCII encoded. */
        CHECK_INT(mail_header_format("To", "Alice Tester", true, &h), 0);
        CHECK_STR(h, "To: Alice Tester");
        free(h);
        CHECK_INT(mail_header_format("To", "Tester, Alice \"Al\"", true, &h), 0);
        CHECK_STR(h, "To: \"Tester, Alice \\\"Al\\\"\"");
        free(h);
        CHECK_INT(mail_header_format("To", "José Núñez", true, &h), 0);
        CHECK_STR(h, "To: =?utf-8?B?Sm9zw6kgTsO6w7Fleg==?=");
        free(h);
}

static void test_quoted_printable(void) {
        const char *text = "Hola, José:\n"
                           "a=b and a trailing space \n"
                           ".a line starting with a dot\n"
                           "From the start of a line\n"
                           "https://id.example.com/redeem?token=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_\n"
                           "ñññññññññññññññññññññññññññññññññññññññññññññññññññññññññ\n"
                           "\ttab\n";
        char *qp, *back;

        CHECK_INT(mail_quoted_printable(text, &qp), 0);
        CHECK(lines_ok(qp, 76));
        for (const char *p = qp; *p; p++)
                CHECK((unsigned char) *p < 0x80);
        CHECK(strstr(qp, "Jos=C3=A9") != NULL);
        CHECK(strstr(qp, "a=3Db") != NULL);
        CHECK(strstr(qp, "space=20\r\n") != NULL);
        CHECK(strstr(qp, "\r\n=2Ea line") != NULL);
        CHECK(strstr(qp, "\r\n=46rom the") != NULL);
        back = qp_decode(qp);
        CHECK_STR(back, text);
        free(back);
        free(qp);

        /* CRLF input reads the same as LF. */
        CHECK_INT(mail_quoted_printable("a\r\nb\r\n", &qp), 0);
        CHECK_STR(qp, "a\r\nb\r\n");
        free(qp);
}

static void test_message(void) {
        mail_address from;
        char id[MAIL_MESSAGE_ID_MAX], date[40];
        char *m, *d, *body_start, *body;
        size_t size;

        CHECK_INT(mail_address_parse("Cuentas Ñandú <cuentas@example.org>", &from), 0);
        mail_message_id_new(&from, id);
        CHECK_INT(mail_message_render(&(mail_message) {
                        .from = &from,
                        .to = "jose@example.com",
                        .to_name = "José Núñez",
                        .subject = "Su cuenta de acme está lista",
                        .body = "Hola, José:\n\nabra este enlace: https://x.example/?token=abc\n",
                        .date = 1796140800,     /* 2026-12-01 16:00:00 UTC, a Tuesday */
                        .message_id = id,
                        .kind = "invite",
                }, &m, &size), 0);
        CHECK_INT(size, strlen(m));
        CHECK(lines_ok(m, 78));
        mail_date_format(1796140800, date);
        CHECK_STR(date, "Tue, 01 Dec 2026 16:00:00 +0000");
        d = header_decoded(m, "Date");
        CHECK_STR(d, date);
        free(d);
        d = header_decoded(m, "Subject");
        CHECK_STR(d, "Su cuenta de acme está lista");
        free(d);
        d = header_decoded(m, "To");
        CHECK_STR(d, "José Núñez <jose@example.com>");
        free(d);
        d = header_decoded(m, "From");
        CHECK_STR(d, "Cuentas Ñandú <cuentas@example.org>");
        free(d);
        d = header_decoded(m, "Message-ID");
        CHECK_STR(d, id);
        free(d);
        d = header_decoded(m, "MIME-Version");
        CHECK_STR(d, "1.0");
        free(d);
        d = header_decoded(m, "Content-Type");
        CHECK_STR(d, "text/plain; charset=utf-8");
        free(d);
        d = header_decoded(m, "Content-Transfer-Encoding");
        CHECK_STR(d, "quoted-printable");
        free(d);
        body_start = strstr(m, "\r\n\r\n");
        CHECK(body_start != NULL);
        body = qp_decode(body_start + 4);
        CHECK_STR(body, "Hola, José:\n\nabra este enlace: https://x.example/?token=abc\n");
        free(body);
        free(m);
}

static void test_message_ids(void) {
        enum { N = 2000 };
        static char ids[N][MAIL_MESSAGE_ID_MAX];
        mail_address from;

        CHECK_INT(mail_address_parse("nexalix@id.example.org", &from), 0);
        for (int i = 0; i < N; i++) {
                mail_message_id_new(&from, ids[i]);
                CHECK_INT(strlen(ids[i]), 1 + 32 + 1 + strlen("id.example.org") + 1);
                CHECK(ids[i][0] == '<' && strstr(ids[i], "@id.example.org>"));
        }
        qsort(ids, N, sizeof(ids[0]), (int (*)(const void *, const void *)) strcmp);
        for (int i = 1; i < N; i++)
                CHECK(strcmp(ids[i - 1], ids[i]) != 0);

        /* A From without a usable domain: the host's name. */
        CHECK_INT(mail_address_parse("x@[127.0.0.1]", &from), -EINVAL);
        CHECK_INT(mail_address_parse("x@local_host", &from), 0);
        mail_message_id_new(&from, ids[0]);
        CHECK(!strstr(ids[0], "local_host"));
}

/* ---- templates ---- */

static void test_templates(void) {
        static const char *const kinds[] = { "invite", "reset-admin", "reset-self", "verify-email",
                                             "incident-alert", "incident-assigned" };
        _cleanup_free_ char *over = path_in("templates"), *over_en = path_in("templates/en"),
                            *file = path_in("templates/en/invite.txt"), *bad = path_in("templates/en/reset-self.txt");
        mail_templates *t = NULL;
        const mail_template *tpl;
        mail_template parsed;
        const char *reason;
        char *x;

        /* The built-in set is whole: every kind in every language, with the
         * link in every mail that carries one. */
        CHECK_INT(mail_templates_load("/nonexistent", "/nonexistent", &t), 0);
        for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
                CHECK_INT(mail_kind_from_string(kinds[k]), (int) k);
                CHECK_STR(mail_kind_to_string((mail_kind) k), kinds[k]);
                for (const char *const *l = LANGUAGES; *l; l++) {
                        tpl = mail_templates_get(t, (mail_kind) k, *l);
                        CHECK(tpl && tpl->subject[0] && tpl->body[0]);
                        CHECK(tpl && (tpl == mail_templates_get(t, (mail_kind) k, "en")) == (strcmp(*l, "en") == 0));
                        CHECK(tpl && (k >= MAIL_INCIDENT_ALERT || strstr(tpl->body, "{link}")));
                        CHECK(tpl && (k >= MAIL_INCIDENT_ALERT || strstr(tpl->body, "{expires}")));
                        CHECK(tpl && (k < MAIL_INCIDENT_ALERT || strstr(tpl->body, "{body}")));
                        CHECK_STR(tpl ? tpl->source : NULL, "built in");
                }
        }
        CHECK(strstr(mail_templates_get(t, MAIL_INVITE, "es")->subject, "contraseña") != NULL);
        CHECK(strstr(mail_templates_get(t, MAIL_INVITE, "pt")->subject, "senha") != NULL);
        CHECK(strstr(mail_templates_get(t, MAIL_RESET_SELF, "en")->body, "1 hour") != NULL);
        CHECK(strstr(mail_templates_get(t, MAIL_RESET_ADMIN, "en")->body, "24 hours") != NULL);
        /* An unknown language gets English. */
        CHECK(mail_templates_get(t, MAIL_INVITE, "de") == mail_templates_get(t, MAIL_INVITE, "en"));
        CHECK(mail_templates_get(t, _MAIL_KIND_MAX, "en") == NULL);
        t = mail_templates_free(t);

        /* An administrator's file wins; a broken one is skipped. */
        CHECK_INT(mkdir(over, 0755), 0);
        CHECK_INT(mkdir(over_en, 0755), 0);
        write_text(file, "Subject: Welcome, {first_name}!\r\n\r\nYour link: {link}\r\n{unknown} stays\r\n\r\n\r\n");
        write_text(bad, "no subject line here\n");
        CHECK_INT(mail_templates_load(over, "/nonexistent", &t), 0);
        tpl = mail_templates_get(t, MAIL_INVITE, "en");
        CHECK_STR(tpl->subject, "Welcome, {first_name}!");
        CHECK_STR(tpl->body, "Your link: {link}\n{unknown} stays\n");
        CHECK_STR(tpl->source, file);
        CHECK_STR(mail_templates_get(t, MAIL_RESET_SELF, "en")->source, "built in");
        /* Spanish was not overridden. */
        CHECK_STR(mail_templates_get(t, MAIL_INVITE, "es")->source, "built in");

        /* SIGHUP: a changed file is read again. */
        write_text(file, "Subject: Changed\n\nBody\n");
        CHECK_INT(mail_templates_reload(t), 0);
        CHECK_STR(mail_templates_get(t, MAIL_INVITE, "en")->subject, "Changed");
        t = mail_templates_free(t);

        CHECK_INT(mail_template_expand("Hi {first_name} {last_name}, {org}: {link} ({expires}) {x} {",
                                       &(mail_vars) { .first_name = "Ana", .last_name = NULL, .org = "acme",
                                                      .link = "L", .expires = "E" }, &x), 0);
        CHECK_STR(x, "Hi Ana , acme: L (E) {x} {");
        free(x);

        CHECK_INT(mail_template_parse("Subject: x\nno blank line\n", 25, &parsed, &reason), -EBADMSG);
        CHECK_INT(mail_template_parse("Subject:   \n\nbody\n", 18, &parsed, &reason), -EBADMSG);
        CHECK_INT(mail_template_parse("Subject: x\n\n\n", 13, &parsed, &reason), -EBADMSG);
        CHECK_INT(mail_template_parse("Subject: \xc3\x28\n\nbody\n", 19, &parsed, &reason), -EBADMSG);
        CHECK_INT(mail_template_parse("subject: ok\n\nbody", 17, &parsed, &reason), 0);
        CHECK_STR(parsed.body, "body\n");
        mail_template_done(&parsed);
}

/* ---- the outbox in a store ---- */

static uint64_t kicked_id;
static unsigned kicks;

static void on_kick(void *userdata, uint64_t id) {
        kicks++;
        kicked_id = id;
}

static void test_outbox(void) {
        _cleanup_free_ char *store_dir = path_in("store");
        config cfg = { .mail_from = (char *) "Accounts <accounts@example.org>" };
        mail_templates *tpl = NULL;
        accounts acc = {};
        store *s = NULL;
        store_txn *t = NULL;
        nx_error e = {};
        outbox_entry entry;
        uint64_t next;
        unsigned n;
        op o;

        CHECK_INT(store_open(store_dir, &s), 0);
        CHECK_INT(mail_templates_load("/nonexistent", "/nonexistent", &tpl), 0);
        acc = (accounts) { .store = s, .config = &cfg, .mail_templates = tpl, .mail_queued = on_kick };

        CHECK_INT(store_begin(s, true, &t), 0);
        o = (op) { .accounts = &acc, .txn = t, .now = 1796140800, .error = &e, .caller = { .superadmin = true } };
        for (int i = 0; i < 3; i++)
                CHECK_INT(outbox_queue(&o, "ana@example.com", i == 1 ? "pt" : "es", MAIL_INVITE,
                                       &(mail_vars) { .username = "ana", .first_name = "Ana", .last_name = "Núñez",
                                                      .org = "acme", .link = "https://id.example/?token=T0K3N",
                                                      .expires = "2026-12-03 16:00 UTC" }), 0);
        CHECK_INT(kicks, 3);
        CHECK_INT(kicked_id, 3);
        CHECK_INT(outbox_queue(&o, "not an address", "en", MAIL_INVITE, &(mail_vars) {}), -EINVAL);
        CHECK_INT(e.error, -EINVAL);
        CHECK_INT(store_commit(t), 0);

        CHECK_INT(store_begin(s, true, &t), 0);
        CHECK_INT(outbox_get(t, 1, &entry), 0);
        CHECK_INT(entry.id, 1);
        CHECK_STR(entry.to, "ana@example.com");
        CHECK_STR(entry.username, "ana");
        CHECK_STR(entry.org, "acme");
        CHECK_INT(entry.kind, MAIL_INVITE);
        CHECK_INT(entry.queued_at, 1796140800);
        CHECK_INT(entry.next_attempt, 0);
        CHECK_INT(entry.give_up_at, 1796140800 + OUTBOX_GIVE_UP_SEC);
        CHECK_INT(entry.attempts, 0);
        CHECK(!entry.given_up);
        CHECK_STR(entry.last_error, "");
        {
                char *msg = strndup(entry.message, entry.message_size), *subject = header_decoded(msg, "Subject"),
                     *mid = header_decoded(msg, "Message-ID"), *body = qp_decode(strstr(msg, "\r\n\r\n") + 4);
                CHECK_STR(subject, "Su cuenta de acme está lista: elija su contraseña");
                CHECK_STR(mid, entry.message_id);
                CHECK(strstr(body, "Hola, Ana:") != NULL);
                CHECK(strstr(body, "https://id.example/?token=T0K3N") != NULL);
                CHECK(strstr(body, "2026-12-03 16:00 UTC") != NULL);
                free(body);
                free(mid);
                free(subject);
                free(msg);
        }
        CHECK_INT(outbox_get(t, 2, &entry), 0);
        CHECK(memmem(entry.message, entry.message_size, "Subject: =?utf-8?B?", 19) != NULL);

        /* Failures: back-off, then given up. */
        CHECK_INT(outbox_deferred(t, 1, 1796140900, "connection refused", false, &next), 0);
        CHECK_INT(next, 1796140900 + OUTBOX_RETRY_FIRST_SEC);
        CHECK_INT(outbox_deferred(t, 1, 1796140900, "connection refused", false, &next), 0);
        CHECK_INT(next, 1796140900 + 2 * OUTBOX_RETRY_FIRST_SEC);
        CHECK_INT(outbox_get(t, 1, &entry), 0);
        CHECK_INT(entry.attempts, 2);
        CHECK_INT(entry.last_attempt, 1796140900);
        CHECK_STR(entry.last_error, "connection refused");
        CHECK(!entry.given_up);
        CHECK_INT(outbox_retry_delay(1), 10);
        CHECK_INT(outbox_retry_delay(2), 20);
        CHECK_INT(outbox_retry_delay(9), 2560);
        CHECK_INT(outbox_retry_delay(10), 3600);
        CHECK_INT(outbox_retry_delay(1000), 3600);

        CHECK_INT(outbox_deferred(t, 2, 1796140900, "550 no such user", true, &next), 0);
        CHECK_INT(next, 0);
        CHECK_INT(outbox_get(t, 2, &entry), 0);
        CHECK(entry.given_up);
        CHECK_STR(entry.last_error, "given up: 550 no such user");
        /* Three days on, a transient failure gives up too. */
        CHECK_INT(outbox_deferred(t, 3, 1796140800 + OUTBOX_GIVE_UP_SEC, "timeout", false, &next), 0);
        CHECK_INT(next, 0);

        /* Retry: given-up mail only when asked. */
        CHECK_INT(outbox_retry(t, 0, NULL, false, 1796140901, &n), 0);
        CHECK_INT(n, 1);
        CHECK_INT(outbox_get(t, 1, &entry), 0);
        CHECK_INT(entry.next_attempt, 1796140901);
        CHECK_INT(outbox_retry(t, 0, "other-org", true, 1796140901, &n), 0);
        CHECK_INT(n, 0);
        CHECK_INT(outbox_retry(t, 2, "acme", true, 1796140901, &n), 0);
        CHECK_INT(n, 1);
        CHECK_INT(outbox_get(t, 2, &entry), 0);
        CHECK(!entry.given_up);
        CHECK_INT(entry.give_up_at, 1796140901 + OUTBOX_GIVE_UP_SEC);

        /* Delivered: gone. Ids are never reused. */
        CHECK_INT(outbox_delivered(t, 1), 0);
        CHECK_INT(outbox_delivered(t, 2), 0);
        CHECK_INT(outbox_delivered(t, 3), 0);
        CHECK_INT(outbox_get(t, 1, &entry), -ENOENT);
        o.txn = t;
        CHECK_INT(outbox_queue(&o, "bob@example.com", "en", MAIL_RESET_SELF,
                               &(mail_vars) { .username = "bob", .org = "acme" }), 0);
        CHECK_INT(kicked_id, 4);
        CHECK_INT(outbox_cancel_user(&o, "bob", &n), 0);
        CHECK_INT(n, 1);
        CHECK_INT(store_commit(t), 0);

        /* Without templates (unit tests of the account logic) nothing is
         * queued. */
        acc.mail_templates = NULL;
        CHECK_INT(store_begin(s, true, &t), 0);
        o.txn = t;
        CHECK_INT(outbox_queue(&o, "x@example.com", "en", MAIL_INVITE, &(mail_vars) {}), 0);
        CHECK_INT(outbox_get(t, 5, &entry), -ENOENT);
        store_abort(t);

        mail_templates_free(tpl);
        store_close(s);
}

/* ---- delivery ---- */

static const char MESSAGE[] = "Subject: test\r\nMessage-ID: <abc123@example.org>\r\n\r\nline one\r\n.starts with a dot\r\n"
                              "..two dots\r\n.\r\nlast\r\n";

static unsigned count_eml(const char *d) {
        DIR *dd = opendir(d);
        struct dirent *de;
        unsigned n = 0;

        if (!dd)
                return 0;
        while ((de = readdir(dd)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(dd);
        return n;
}

static void test_spool(void) {
        _cleanup_free_ char *spool = path_in("spool"), *file = path_in("spool/abc123@example.org.eml"), *text = NULL;
        mail_transport t = { .spool_dir = spool, .cancel_fd = -1 };
        mail_delivery_result res;
        char name[64];

        CHECK_INT(mkdir(spool, 0755), 0);
        CHECK_INT(mail_deliver(&t, "x@example.org", "<abc123@example.org>", MESSAGE, strlen(MESSAGE), &res), 0);
        /* Again, as after a crash before the outbox forgot it: the same one
         * file. */
        CHECK_INT(mail_deliver(&t, "x@example.org", "<abc123@example.org>", MESSAGE, strlen(MESSAGE), &res), 0);
        CHECK_INT(count_eml(spool), 1);
        text = read_text(file);
        CHECK_STR(text, MESSAGE);

        CHECK_INT(mail_spool_name("<a/../b@x>", name, sizeof(name)), 0);
        CHECK_STR(name, "a_.._b@x.eml");
        CHECK_INT(mail_spool_name("<>", name, sizeof(name)), -EINVAL);
        CHECK_INT(mail_spool_name("<.hidden@x>", name, sizeof(name)), -EINVAL);

        t.spool_dir = "/nonexistent/spool";
        CHECK(mail_deliver(&t, "x@example.org", "<abc123@example.org>", MESSAGE, strlen(MESSAGE), &res) < 0);
        CHECK(strstr(res.error, "/nonexistent/spool") != NULL);
        CHECK(!res.permanent);
}

/* A tiny SMTP server on a thread: answers with the codes in `script`,
 * records what it was sent. */
typedef struct fake_smtp {
        int listen_fd;
        uint16_t port;
        const char *rcpt_reply;         /* the reply to RCPT TO */
        bool silent_after_data;         /* never answer the end of the message */
        char received[8192];
        size_t n;
} fake_smtp;

static void send_line(int fd, const char *s) {
        (void) !write(fd, s, strlen(s));
}

static void *fake_smtp_main(void *userdata) {
        fake_smtp *f = userdata;
        int fd = accept(f->listen_fd, NULL, NULL);
        bool data = false;
        char line[2048];
        size_t ln = 0;

        if (fd < 0)
                return NULL;
        send_line(fd, "220 fake ESMTP\r\n");
        for (;;) {
                char c;
                if (read(fd, &c, 1) != 1)
                        break;
                if (f->n < sizeof(f->received) - 1)
                        f->received[f->n++] = c;
                if (ln < sizeof(line) - 1)
                        line[ln++] = c;
                if (c != '\n')
                        continue;
                line[ln] = 0;
                ln = 0;
                if (data) {
                        if (strcmp(line, ".\r\n") == 0) {
                                data = false;
                                if (f->silent_after_data) {
                                        sleep(2);
                                        break;
                                }
                                send_line(fd, "250 2.0.0 queued as 42\r\n");
                        }
                        continue;
                }
                if (strncmp(line, "EHLO", 4) == 0)
                        send_line(fd, "250-fake greets you\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n");
                else if (strncmp(line, "MAIL FROM:", 10) == 0)
                        send_line(fd, "250 2.1.0 ok\r\n");
                else if (strncmp(line, "RCPT TO:", 8) == 0)
                        send_line(fd, f->rcpt_reply ?: "250 2.1.5 ok\r\n");
                else if (strncmp(line, "DATA", 4) == 0) {
                        send_line(fd, "354 go ahead\r\n");
                        data = true;
                } else if (strncmp(line, "QUIT", 4) == 0) {
                        send_line(fd, "221 bye\r\n");
                        break;
                } else
                        send_line(fd, "500 what?\r\n");
        }
        close(fd);
        f->received[f->n] = 0;
        return NULL;
}

static int fake_smtp_start(fake_smtp *f, pthread_t *thread) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);

        f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (f->listen_fd < 0 || bind(f->listen_fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
            listen(f->listen_fd, 1) < 0 || getsockname(f->listen_fd, (struct sockaddr *) &a, &len) < 0)
                return -errno;
        f->port = ntohs(a.sin_port);
        return -pthread_create(thread, NULL, fake_smtp_main, f);
}

static void test_smtp(void) {
        char host[64], target[64];
        uint16_t port;
        mail_delivery_result res;
        pthread_t thread;
        fake_smtp f = {};

        CHECK_INT(mail_smtp_parse("127.0.0.1:2525", host, sizeof(host), &port), 0);
        CHECK_STR(host, "127.0.0.1");
        CHECK_INT(port, 2525);
        CHECK_INT(mail_smtp_parse("localhost", host, sizeof(host), &port), 0);
        CHECK_INT(port, 25);
        CHECK_INT(mail_smtp_parse("[::1]:587", host, sizeof(host), &port), 0);
        CHECK_STR(host, "::1");
        CHECK_INT(port, 587);
        CHECK_INT(mail_smtp_parse("::1", host, sizeof(host), &port), -EINVAL);
        CHECK_INT(mail_smtp_parse("host:0", host, sizeof(host), &port), -EINVAL);
        CHECK_INT(mail_smtp_parse("host:99999", host, sizeof(host), &port), -EINVAL);
        CHECK_INT(mail_smtp_parse("ho st:25", host, sizeof(host), &port), -EINVAL);
        CHECK_INT(mail_smtp_parse("", host, sizeof(host), &port), -EINVAL);

        /* Accepted: the envelope, and the message dot-stuffed with CRLF. */
        CHECK_INT(fake_smtp_start(&f, &thread), 0);
        snprintf(target, sizeof(target), "127.0.0.1:%u", f.port);
        mail_transport t = { .smtp = target, .envelope_from = "from@example.org", .helo = "test.example",
                             .cancel_fd = -1, .timeout_ms = 5000, .step_timeout_ms = 2000 };
        CHECK_INT(mail_deliver(&t, "to@example.com", "<abc123@example.org>", MESSAGE, strlen(MESSAGE), &res), 0);
        pthread_join(thread, NULL);
        close(f.listen_fd);
        CHECK(strstr(f.received, "EHLO test.example\r\n") != NULL);
        CHECK(strstr(f.received, "MAIL FROM:<from@example.org>\r\n") != NULL);
        CHECK(strstr(f.received, "RCPT TO:<to@example.com>\r\n") != NULL);
        CHECK(strstr(f.received, "DATA\r\nSubject: test\r\n") != NULL);
        CHECK(strstr(f.received, "\r\n..starts with a dot\r\n...two dots\r\n..\r\nlast\r\n.\r\nQUIT\r\n") != NULL);

        /* Refused for good: permanent. */
        f = (fake_smtp) { .rcpt_reply = "550 5.1.1 no such user\r\n" };
        CHECK_INT(fake_smtp_start(&f, &thread), 0);
        snprintf(target, sizeof(target), "127.0.0.1:%u", f.port);
        CHECK(mail_deliver(&t, "to@example.com", "<x@y>", MESSAGE, strlen(MESSAGE), &res) < 0);
        pthread_join(thread, NULL);
        close(f.listen_fd);
        CHECK(res.permanent);
        CHECK(strstr(res.error, "RCPT TO refused: 550 5.1.1 no such user") != NULL);

        /* Refused for now: tried again later. */
        f = (fake_smtp) { .rcpt_reply = "451 4.3.0 try later\r\n" };
        CHECK_INT(fake_smtp_start(&f, &thread), 0);
        snprintf(target, sizeof(target), "127.0.0.1:%u", f.port);
        CHECK(mail_deliver(&t, "to@example.com", "<x@y>", MESSAGE, strlen(MESSAGE), &res) < 0);
        pthread_join(thread, NULL);
        close(f.listen_fd);
        CHECK(!res.permanent);
        CHECK(strstr(res.error, "451") != NULL);

        /* No answer to the end of the message: a timeout, not a success. */
        f = (fake_smtp) { .silent_after_data = true };
        CHECK_INT(fake_smtp_start(&f, &thread), 0);
        snprintf(target, sizeof(target), "127.0.0.1:%u", f.port);
        t.step_timeout_ms = 300;
        CHECK_INT(mail_deliver(&t, "to@example.com", "<x@y>", MESSAGE, strlen(MESSAGE), &res), -ETIMEDOUT);
        pthread_join(thread, NULL);
        close(f.listen_fd);
        CHECK(strstr(res.error, "no reply in time") != NULL);

        /* Nobody listening. */
        snprintf(target, sizeof(target), "127.0.0.1:%u", f.port);
        CHECK(mail_deliver(&t, "to@example.com", "<x@y>", MESSAGE, strlen(MESSAGE), &res) < 0);
        CHECK(strstr(res.error, "cannot connect to 127.0.0.1 port") != NULL);
}

static void test_sendmail(void) {
        _cleanup_free_ char *script = path_in("sendmail.sh"), *out = path_in("sendmail.out"),
                            *args = path_in("sendmail.args"), *text = NULL;
        char *command = NULL, *argv_text = NULL;
        mail_transport t = { .cancel_fd = -1, .timeout_ms = 5000 };
        mail_delivery_result res;
        uint64_t start;
        int cancel;

        write_text(script, "#!/bin/sh\n"
                           "echo \"$@\" > \"$(dirname \"$0\")/sendmail.args\"\n"
                           "case \"$1\" in\n"
                           "fail) cat >/dev/null; echo 'cannot queue: disk full' >&2; exit 75 ;;\n"
                           "hang) exec sleep 30 ;;\n"
                           "esac\n"
                           "cat > \"$(dirname \"$0\")/sendmail.out\"\n");
        CHECK_INT(chmod(script, 0755), 0);

        CHECK(asprintf(&command, "%s -t -i", script) > 0);
        t.sendmail = command;
        CHECK_INT(mail_deliver(&t, "to@example.com", "<x@y>", MESSAGE, strlen(MESSAGE), &res), 0);
        text = read_text(out);
        /* Local line ends for sendmail(8). */
        CHECK(text && strstr(text, "Subject: test\nMessage-ID") && !strchr(text, '\r'));
        argv_text = read_text(args);
        CHECK_STR(argv_text, "-t -i\n");
        free(argv_text);
        free(command);

        /* Without -t the recipient is an argument. */
        CHECK(asprintf(&command, "%s -i", script) > 0);
        t.sendmail = command;
        CHECK_INT(mail_deliver(&t, "to@example.com", "<x@y>", MESSAGE, strlen(MESSAGE), &res), 0);
        argv_text = read_text(args);
        CHECK_STR(argv_text, "-i to@example.com\n");
        free(argv_text);
        free(command);

        CHECK(asprintf(&command, "%s fail", script) > 0);
        t.sendmail = command;
        CHECK(mail_deliver(&t, "to@example.com", "<x@y>", MESSAGE, strlen(MESSAGE), &res) < 0);
        CHECK(strstr(res.error, "exited with status 75: cannot queue: disk full") != NULL);
        free(command);

        /* A command that hangs is killed at the deadline... */
        CHECK(asprintf(&command, "%s hang", script) > 0);
        t.sendmail = command;
        t.timeout_ms = 300;
        start = (uint64_t) time(NULL);
        CHECK_INT(mail_deliver(&t, "to@example.com", "<x@y>", MESSAGE, strlen(MESSAGE), &res), -ETIMEDOUT);
        CHECK((uint64_t) time(NULL) - start < 5);
        CHECK(strstr(res.error, "timed out") != NULL);

        /* ...and at a cancellation (the daemon stops) after a short grace. */
        cancel = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
        t.cancel_fd = cancel;
        t.timeout_ms = 20000;
        start = (uint64_t) time(NULL);
        CHECK_INT(mail_deliver(&t, "to@example.com", "<x@y>", MESSAGE, strlen(MESSAGE), &res), -ECANCELED);
        CHECK((uint64_t) time(NULL) - start < 5);
        close(cancel);
        free(command);

        t.sendmail = "/nonexistent/sendmail -t";
        t.cancel_fd = -1;
        CHECK(mail_deliver(&t, "to@example.com", "<x@y>", MESSAGE, strlen(MESSAGE), &res) < 0);
        CHECK(strstr(res.error, "/nonexistent/sendmail") != NULL);
}

/* The [mail] keys of nexalixd.conf this subsystem added. */
static void test_config(void) {
        _cleanup_free_ char *path = path_in("nexalixd.conf");
        config c = {};

        write_text(path, "[mail]\nsmtp = 127.0.0.1:2525\ntemplates = /srv/mail-templates\nfrom = Cuentas <a@example.org>\n");
        CHECK_INT(config_load(path, 1, &c), 0);
        CHECK_STR(c.mail_smtp, "127.0.0.1:2525");
        CHECK_STR(c.mail_templates, "/srv/mail-templates");
        CHECK(!c.mail_spool);
        config_done(&c);

        /* Empty: unset, as spool. */
        write_text(path, "[mail]\nsmtp = 127.0.0.1:25\nsmtp =\ntemplates =\n");
        CHECK_INT(config_load(path, 1, &c), 0);
        CHECK(!c.mail_smtp);
        CHECK(!c.mail_templates);
        config_done(&c);

        CHECK_INT(config_load("/nonexistent/nexalixd.conf", 0, &c), 0);
        CHECK(!c.mail_smtp);
        CHECK(!c.mail_templates);
        CHECK_STR(c.sendmail, "/usr/sbin/sendmail -t -i");
        config_done(&c);
}

int main(void) {
        char command[256];

        signal(SIGPIPE, SIG_IGN);
        if (sodium_init() < 0 || !mkdtemp(dir)) {
                perror("setup");
                return EXIT_FAILURE;
        }
        test_config();
        test_address();
        test_headers();
        test_quoted_printable();
        test_message();
        test_message_ids();
        test_templates();
        test_outbox();
        test_spool();
        test_smtp();
        test_sendmail();

        snprintf(command, sizeof(command), "rm -rf %s", dir);
        (void) !system(command);
        return test_result("test-mail");
}
