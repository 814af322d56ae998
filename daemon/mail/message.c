/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "macro.h"
#include "message.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* RFC 5322: lines SHOULD be at most 78 characters, MUST be at most 998. */
#define LINE_SOFT_MAX 78
/* RFC 2047: an encoded word is at most 75 characters, and a line holding
 * one at most 76. */
#define ENCODED_LINE_MAX 76
/* RFC 2045: a quoted-printable line is at most 76 characters, the soft
 * break's '=' included. */
#define QP_LINE_MAX 76

static bool is_ascii_printable(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || (unsigned char) *s > 0x7e)
                        return false;
        return true;
}

/* RFC 5322 atext, and the space between words of a phrase. */
static bool is_atext_or_space(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
               strchr("!#$%&'*+-/=?^_`{|}~", c);
}

int mail_address_parse(const char *s, mail_address *ret) {
        mail_address a = {};
        const char *lt, *at;
        size_t n;

        while (*s == ' ' || *s == '\t')
                s++;
        lt = strrchr(s, '<');
        if (lt) {
                const char *d = s, *e = lt;
                size_t len = strlen(lt);

                if (len < 3 || lt[len - 1] != '>' || lt[len] != 0)
                        return -EINVAL;
                while (e > d && (e[-1] == ' ' || e[-1] == '\t'))
                        e--;
                if (e - d >= 2 && *d == '"' && e[-1] == '"') {
                        d++;
                        e--;
                }
                if ((size_t) (e - d) >= sizeof(a.display))
                        return -EINVAL;
                memcpy(a.display, d, (size_t) (e - d));
                for (const char *p = a.display; *p; p++)
                        if ((unsigned char) *p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
                                return -EINVAL;
                n = len - 2;
                if (n >= sizeof(a.addr))
                        return -EINVAL;
                memcpy(a.addr, lt + 1, n);
        } else {
                n = strlen(s);
                while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                        n--;
                if (n >= sizeof(a.addr))
                        return -EINVAL;
                memcpy(a.addr, s, n);
        }
        at = strrchr(a.addr, '@');
        if (!at || at == a.addr || !at[1])
                return -EINVAL;
        for (const char *p = a.addr; *p; p++)
                if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f || strchr("\"<>()[],;:\\", *p))
                        return -EINVAL;
        *ret = a;
        return 0;
}

/* The domain a Message-ID ends with: the From address's, when it is a
 * plain host name, else this host's. */
static void id_domain(const mail_address *from, char *buf, size_t size) {
        const char *at = from ? strrchr(from->addr, '@') : NULL;
        bool ok = at && at[1];

        for (const char *p = at ? at + 1 : ""; ok && *p; p++)
                ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                     *p == '-' || *p == '.';
        if (ok && strlen(at + 1) < size) {
                snprintf(buf, size, "%s", at + 1);
                return;
        }
        if (gethostname(buf, size) < 0 || !buf[0] || !is_ascii_printable(buf) || strpbrk(buf, " <>@"))
                snprintf(buf, size, "localhost");
        buf[size - 1] = 0;
}

int mail_message_id_new(const mail_address *from, char ret[static MAIL_MESSAGE_ID_MAX]) {
        unsigned char raw[16];
        char hex[2 * sizeof(raw) + 1], domain[EMAIL_MAX + 1];

        randombytes_buf(raw, sizeof(raw));
        sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
        id_domain(from, domain, sizeof(domain));
        snprintf(ret, MAIL_MESSAGE_ID_MAX, "<%s@%s>", hex, domain);
        return 0;
}

void mail_date_format(uint64_t t, char ret[static 40]) {
        static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
        static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
        time_t tt = (time_t) t;
        struct tm tm;

        if (!gmtime_r(&tt, &tm)) {
                tt = 0;
                gmtime_r(&tt, &tm);
        }
        snprintf(ret, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
                 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Encoded words for s, starting at column col; each further word on a
 * folded line of its own. Words end at character boundaries: RFC 2047 says
 * each must be decodable alone. */
static void put_encoded_words(FILE *f, size_t col, const char *s) {
        size_t n = strlen(s), i = 0;
        bool first = true;

        while (i < n) {
                size_t room = ENCODED_LINE_MAX - (first ? col : 1), take;
                char b64[sodium_base64_ENCODED_LEN(60, sodium_base64_VARIANT_ORIGINAL)];

                if (room < 12 + 4 * 2) {
                        /* No room left on the header's first line. */
                        fputs("\r\n", f);
                        col = 1;
                        fputc(' ', f);
                        room = ENCODED_LINE_MAX - 1;
                        first = true;
                }
                take = (room - 12) / 4 * 3;
                if (take > 45)
                        take = 45;
                if (take > n - i)
                        take = n - i;
                while (take > 1 && i + take < n && ((unsigned char) s[i + take] & 0xc0) == 0x80)
                        take--;
                if (!first)
                        fputs("\r\n ", f);
                sodium_bin2base64(b64, sizeof(b64), (const unsigned char *) s + i, take,
                                  sodium_base64_VARIANT_ORIGINAL);
                fprintf(f, "=?utf-8?B?%s?=", b64);
                i += take;
                first = false;
        }
}

/* Plain ASCII folded at spaces so that lines stay within 78 characters
 * where the words allow it. */
static void put_folded_ascii(FILE *f, size_t col, const char *s) {
        size_t line = col;

        while (*s) {
                size_t word = strcspn(s + 1, " ") + 1;  /* a space (if any) and the word after it */

                if (line + word > LINE_SOFT_MAX && line > col && *s == ' ') {
                        fputs("\r\n", f);
                        line = 0;
                }
                fwrite(s, 1, word, f);
                line += word;
                s += word;
        }
}

/* Whether plain text can go into a header as it is: printable ASCII, no
 * word too long to fold, and nothing a reader would take for an encoded
 * word. */
static bool header_plain(const char *s) {
        if (!is_ascii_printable(s) || strstr(s, "=?"))
                return false;
        for (const char *p = s; *p;) {
                size_t word = strcspn(p, " ");
                if (word > 900)
                        return false;
                p += word;
                p += strspn(p, " ");
        }
        return true;
}

int mail_header_format(const char *name, const char *value, bool phrase, char **ret) {
        _cleanup_free_ char *clean = NULL, *out = NULL;
        size_t size = 0, col = strlen(name) + 2;
        FILE *f;

        /* One line, no control characters: nothing a value holds can add a
         * header or end the header block. */
        clean = strdup(value);
        if (!clean)
                return -ENOMEM;
        for (char *p = clean; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = ' ';

        f = open_memstream(&out, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "%s: ", name);
        if (!header_plain(clean))
                put_encoded_words(f, col, clean);
        else if (phrase) {
                bool atext = true;
                for (const char *p = clean; *p; p++)
                        atext = atext && is_atext_or_space(*p);
                if (atext)
                        fputs(clean, f);
                else {
                        fputc('"', f);
                        for (const char *p = clean; *p; p++) {
                                if (*p == '"' || *p == '\\')
                                        fputc('\\', f);
                                fputc(*p, f);
                        }
                        fputc('"', f);
                }
        } else
                put_folded_ascii(f, col, clean);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(out);
        return 0;
}

int mail_quoted_printable(const char *text, char **ret) {
        size_t n = strlen(text);
        char *out, *p;

        /* One allocation, no stdio: every byte may become "=XX", every line
         * may get a soft break per 25 encoded bytes, and "\r\n" ends each. */
        if (n > (SIZE_MAX - 64) / 5)
                return -ENOMEM;
        out = p = malloc(n * 5 + 64);
        if (!out)
                return -ENOMEM;
        for (const char *line = text; *line;) {
                size_t len = strcspn(line, "\n"), col = 0;

                if (len > 0 && line[len - 1] == '\r')
                        len--;
                for (size_t j = 0; j < len; j++) {
                        unsigned char c = (unsigned char) line[j];
                        bool last = j + 1 == len;
                        bool encode = c == '=' || (c < 0x20 && c != '\t') || c > 0x7e ||
                                      ((c == ' ' || c == '\t') && last) ||
                                      /* A line "." ends an SMTP message, and
                                       * "From " starts a new one in an mbox:
                                       * keep both out of the text, whatever
                                       * carries it. */
                                      (j == 0 && col == 0 && c == '.') ||
                                      (j == 0 && c == 'F' && strncmp(line, "From ", 5) == 0);
                        size_t piece = encode ? 3 : 1;

                        if (col + piece > (last ? QP_LINE_MAX : QP_LINE_MAX - 1)) {
                                p = stpcpy(p, "=\r\n");
                                col = 0;
                        }
                        if (encode) {
                                static const char hex[] = "0123456789ABCDEF";
                                *p++ = '=';
                                *p++ = hex[c >> 4];
                                *p++ = hex[c & 0xf];
                        } else
                                *p++ = (char) c;
                        col += piece;
                }
                p = stpcpy(p, "\r\n");
                line += strcspn(line, "\n");
                if (*line == '\n')
                        line++;
        }
        *p = 0;
        *ret = out;
        return 0;
}

static int put_header(FILE *f, const char *name, const char *value, bool phrase) {
        _cleanup_free_ char *h = NULL;
        int r = mail_header_format(name, value, phrase, &h);
        if (r < 0)
                return r;
        fprintf(f, "%s\r\n", h);
        return 0;
}

/* "Name: phrase <addr>", the phrase encoded as needed. */
static int put_address_header(FILE *f, const char *name, const char *display, const char *addr) {
        _cleanup_free_ char *h = NULL;
        int r;

        if (isempty(display) || strspn(display, " ") == strlen(display)) {
                fprintf(f, "%s: %s\r\n", name, addr);
                return 0;
        }
        r = mail_header_format(name, display, true, &h);
        if (r < 0)
                return r;
        fprintf(f, "%s <%s>\r\n", h, addr);
        return 0;
}

int mail_message_render(const mail_message *m, char **ret, size_t *ret_size) {
        _cleanup_free_ char *out = NULL, *body = NULL;
        char date[40];
        size_t size = 0;
        FILE *f;
        int r;

        r = mail_quoted_printable(m->body, &body);
        if (r < 0)
                return r;
        mail_date_format(m->date, date);

        f = open_memstream(&out, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "Date: %s\r\n", date);
        r = put_address_header(f, "From", m->from->display, m->from->addr);
        if (r >= 0)
                r = put_address_header(f, "To", m->to_name, m->to);
        if (r >= 0)
                r = put_header(f, "Subject", m->subject, false);
        if (r < 0) {
                fclose(f);
                return r;
        }
        fprintf(f, "Message-ID: %s\r\n", m->message_id);
        fputs("MIME-Version: 1.0\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Transfer-Encoding: quoted-printable\r\n"
              /* RFC 3834: no vacation replies to this. */
              "Auto-Submitted: auto-generated\r\n", f);
        if (m->kind)
                fprintf(f, "X-Nexalix-Kind: %s\r\n", m->kind);
        fputs("\r\n", f);
        fputs(body, f);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret_size = size;
        *ret = TAKE_PTR(out);
        return 0;
}
