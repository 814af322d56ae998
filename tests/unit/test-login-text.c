/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the login conversation says (daemon/login/login-text.c): every text
 * in every language, as UTF-8; the first password prompt the same in all of
 * them, so that it tells nothing about the account; the back-off message
 * with its seconds; English for a missing or unknown language. */

#include "login-text.h"
#include "macro.h"
#include "test-util.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

static const char *const languages[] = { "en", "es", "pt" };

/* Well-formed UTF-8: no stray continuation bytes, no overlong forms, no
 * surrogates, nothing past U+10FFFF. */
static bool is_utf8(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                uint32_t c;
                int n;

                if (*p < 0x80) {
                        p++;
                        continue;
                }
                if ((*p & 0xe0) == 0xc0)
                        c = *p & 0x1f, n = 1;
                else if ((*p & 0xf0) == 0xe0)
                        c = *p & 0x0f, n = 2;
                else if ((*p & 0xf8) == 0xf0)
                        c = *p & 0x07, n = 3;
                else
                        return false;
                p++;
                for (int i = 0; i < n; i++, p++) {
                        if ((*p & 0xc0) != 0x80)
                                return false;
                        c = c << 6 | (*p & 0x3f);
                }
                if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) || (n == 3 && c < 0x10000) ||
                    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                        return false;
        }
        return true;
}

/* The number of '%' conversions, "%%" not counted. */
static int conversions(const char *s) {
        int n = 0;

        for (const char *p = strchr(s, '%'); p; p = strchr(p + 1, '%')) {
                if (p[1] == '%') {
                        p++;
                        continue;
                }
                n++;
        }
        return n;
}

static void test_texts(void) {
        for (size_t l = 0; l < ELEMENTSOF(languages); l++)
                for (int t = 0; t < _TEXT_MAX; t++) {
                        const char *s = login_text_get(languages[l], t);

                        if (!s || !*s) {
                                fprintf(stderr, "text %d missing in %s\n", t, languages[l]);
                                CHECK(s && *s);
                                continue;
                        }
                        CHECK(is_utf8(s));
                        /* Only the back-off message is a format, with one
                         * number in it. */
                        if (t == TEXT_BACKED_OFF) {
                                CHECK_INT(conversions(s), 1);
                                CHECK(strstr(s, "%u"));
                        } else
                                CHECK_INT(conversions(s), 0);
                }

        /* The first prompt gives nothing away: the same bytes for every
         * language (and so for every user, known or not). */
        for (size_t l = 0; l < ELEMENTSOF(languages); l++)
                CHECK_STR(login_text_get(languages[l], TEXT_PASSWORD), login_text_get(NULL, TEXT_PASSWORD));
        CHECK_STR(login_text_get("xx", TEXT_PASSWORD), login_text_get("en", TEXT_PASSWORD));

        /* The languages are really different after that. */
        CHECK(strcmp(login_text_get("en", TEXT_NEW_PASSWORD), login_text_get("es", TEXT_NEW_PASSWORD)) != 0);
        CHECK(strcmp(login_text_get("en", TEXT_NEW_PASSWORD), login_text_get("pt", TEXT_NEW_PASSWORD)) != 0);
        CHECK(strcmp(login_text_get("es", TEXT_NEW_PASSWORD), login_text_get("pt", TEXT_NEW_PASSWORD)) != 0);
        CHECK_STR(login_text_get("en", TEXT_NEW_PASSWORD), "New password: ");
        CHECK_STR(login_text_get("es", TEXT_NEW_PASSWORD), "Nueva contraseña: ");
        CHECK_STR(login_text_get("pt", TEXT_NEW_PASSWORD), "Nova senha: ");

        /* Missing or unknown languages read as English, text for text. */
        {
                const char *others[] = { NULL, "", "de", "e", "esp", "ptx", "EN", "zz" };
                for (size_t k = 0; k < ELEMENTSOF(others); k++)
                        for (int t = 0; t < _TEXT_MAX; t++)
                                CHECK_STR(login_text_get(others[k], t), login_text_get("en", t));
        }

        /* A text number out of range is empty, not a crash. */
        CHECK_STR(login_text_get("en", _TEXT_MAX), "");
        CHECK_STR(login_text_get("pt", (login_text) 1000), "");
}

static void test_backed_off(void) {
        char buf[256];

        login_text_backed_off("en", 15, buf, sizeof(buf));
        CHECK_STR(buf, "Too many failed attempts: try again in 15 s.");
        login_text_backed_off(NULL, 900, buf, sizeof(buf));
        CHECK_STR(buf, "Too many failed attempts: try again in 900 s.");
        login_text_backed_off("de", 1, buf, sizeof(buf));
        CHECK_STR(buf, "Too many failed attempts: try again in 1 s.");
        login_text_backed_off("es", 30, buf, sizeof(buf));
        CHECK_STR(buf, "Demasiados intentos fallidos: inténtelo de nuevo dentro de 30 s.");
        login_text_backed_off("pt", 60, buf, sizeof(buf));
        CHECK_STR(buf, "Demasiadas tentativas falhadas: tente novamente dentro de 60 s.");
        login_text_backed_off("en", UINT_MAX, buf, sizeof(buf));
        CHECK_STR(buf, "Too many failed attempts: try again in 4294967295 s.");

        /* Every language fills the number in (no "%u" left). */
        for (size_t l = 0; l < ELEMENTSOF(languages); l++) {
                login_text_backed_off(languages[l], 12345, buf, sizeof(buf));
                CHECK(strstr(buf, "12345"));
                CHECK(!strchr(buf, '%'));
                CHECK(is_utf8(buf));
        }

        /* A short buffer is cut, never overrun, and stays terminated. */
        memset(buf, 'X', sizeof(buf));
        login_text_backed_off("en", 15, buf, 10);
        CHECK_STR(buf, "Too many ");
        CHECK(buf[10] == 'X');
        memset(buf, 'X', sizeof(buf));
        login_text_backed_off("en", 15, buf, 1);
        CHECK_STR(buf, "");
        CHECK(buf[1] == 'X');
        memset(buf, 'X', sizeof(buf));
        login_text_backed_off("en", 15, buf, 0);
        CHECK(buf[0] == 'X');
}

int main(void) {
        test_texts();
        test_backed_off();
        return test_result("test-login-text");
}
