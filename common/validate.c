/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "validate.h"

#include <errno.h>
#include <string.h>

const char *const LANGUAGES[] = { "en", "es", "pt", NULL };

static int fail(const char **ret_reason, const char *reason) {
        if (ret_reason)
                *ret_reason = reason;
        return -EINVAL;
}

static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

int validate_username(const char *s, const char **ret_reason) {
        if (!s || !*s)
                return fail(ret_reason, "username must not be empty");
        if (strlen(s) > USERNAME_MAX)
                return fail(ret_reason, "username must be at most 32 characters");
        if (!is_lower(s[0]) && s[0] != '_')
                return fail(ret_reason, "username must start with a lower-case letter or '_'");
        for (const char *p = s + 1; *p; p++)
                if (!is_lower(*p) && !is_digit(*p) && *p != '_' && *p != '-')
                        return fail(ret_reason,
                                    "username may contain only lower-case letters, digits, '_' and '-'");
        return 0;
}

int validate_group_name(const char *s, const char **ret_reason) {
        if (!s || !*s)
                return fail(ret_reason, "group name must not be empty");
        if (strlen(s) > GROUP_NAME_MAX)
                return fail(ret_reason, "group name must be at most 32 characters");
        if (!is_lower(s[0]) && s[0] != '_')
                return fail(ret_reason, "group name must start with a lower-case letter or '_'");
        for (const char *p = s + 1; *p; p++)
                if (!is_lower(*p) && !is_digit(*p) && *p != '_' && *p != '-' && *p != '.')
                        return fail(ret_reason,
                                    "group name may contain only lower-case letters, digits, '_', '-' and '.'");
        return 0;
}

/* Decodes one UTF-8 sequence; returns its length, or 0 if it is malformed
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_decode(const unsigned char *p, unsigned *ret_cp) {
        unsigned cp, min;
        size_t n;

        if (p[0] < 0x80) {
                *ret_cp = p[0];
                return 1;
        }
        if ((p[0] & 0xE0) == 0xC0)
                n = 2, cp = p[0] & 0x1F, min = 0x80;
        else if ((p[0] & 0xF0) == 0xE0)
                n = 3, cp = p[0] & 0x0F, min = 0x800;
        else if ((p[0] & 0xF8) == 0xF0)
                n = 4, cp = p[0] & 0x07, min = 0x10000;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xC0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return 0;
        *ret_cp = cp;
        return n;
}

int validate_person_name(const char *s, const char **ret_reason) {
        size_t chars = 0;

        if (!s || !*s)
                return fail(ret_reason, "first and last name must not be empty");
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                unsigned cp;
                size_t n = utf8_decode(p, &cp);

                if (n == 0)
                        return fail(ret_reason, "names must be valid UTF-8");
                /* C0 and C1 controls and DEL would corrupt terminals and the
                 * GECOS field; ':' and ',' are GECOS field separators. */
                if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
                        return fail(ret_reason, "names must not contain control characters");
                if (cp == ':')
                        return fail(ret_reason, "names must not contain ':'");
                if (cp == ',')
                        return fail(ret_reason, "names must not contain ','");
                p += n;
                chars++;
        }
        if (chars > PERSON_NAME_MAX)
                return fail(ret_reason, "names must be at most 64 characters");
        if (s[0] == ' ' || s[strlen(s) - 1] == ' ')
                return fail(ret_reason, "names must not start or end with a space");
        return 0;
}

/* A deliberately conservative subset of RFC 5321 addresses: what real
 * mailboxes use, nothing a mail header or shell could misread. */
int validate_email(const char *s, const char **ret_reason) {
        const char *at, *p;

        if (!s || !*s)
                return fail(ret_reason, "email must not be empty");
        if (strlen(s) > EMAIL_MAX)
                return fail(ret_reason, "email must be at most 254 characters");
        at = strchr(s, '@');
        if (!at || at == s || strchr(at + 1, '@'))
                return fail(ret_reason, "email must look like name@example.com");
        if (at - s > 64)
                return fail(ret_reason, "the part of an email before '@' must be at most 64 characters");
        for (p = s; p < at; p++)
                if (!(is_lower(*p) || (*p >= 'A' && *p <= 'Z') || is_digit(*p) ||
                      strchr(".!#$%&'*+/=?^_`{|}~-", *p)))
                        return fail(ret_reason, "email contains a character that is not allowed before '@'");
        if (s[0] == '.' || at[-1] == '.' || strstr(s, ".."))
                return fail(ret_reason, "email must not have a leading, trailing or double '.'");

        /* Domain: dot-separated labels of letters, digits and inner hyphens,
         * at least two labels. */
        const char *label = at + 1;
        int labels = 0;
        for (p = at + 1;; p++) {
                if (*p == '.' || *p == '\0') {
                        size_t len = (size_t) (p - label);
                        if (len == 0 || len > 63 || label[0] == '-' || p[-1] == '-')
                                return fail(ret_reason, "email must have a valid domain after '@'");
                        labels++;
                        if (*p == '\0')
                                break;
                        label = p + 1;
                } else if (!(is_lower(*p) || (*p >= 'A' && *p <= 'Z') || is_digit(*p) || *p == '-'))
                        return fail(ret_reason, "email must have a valid domain after '@'");
        }
        if (labels < 2)
                return fail(ret_reason, "email must have a valid domain after '@'");
        return 0;
}

int validate_language(const char *s, const char **ret_reason) {
        for (size_t i = 0; s && LANGUAGES[i]; i++)
                if (strcmp(s, LANGUAGES[i]) == 0)
                        return 0;
        return fail(ret_reason, "language must be one of en, es, pt");
}

/* Organisation and department names become parts of POSIX group names
 * ("ORG-DEPT", "ORG-ROLE"), so they follow the username alphabet, minus '_',
 * and are short enough for the joined name to fit in 32 characters. */
static int validate_group_part(const char *s, size_t max, const char *what_empty,
                               const char *what_long, const char *what_chars,
                               const char **ret_reason) {
        if (!s || !*s)
                return fail(ret_reason, what_empty);
        if (strlen(s) > max)
                return fail(ret_reason, what_long);
        if (!is_lower(s[0]))
                return fail(ret_reason, what_chars);
        for (const char *p = s; *p; p++)
                if (!is_lower(*p) && !is_digit(*p) && *p != '-')
                        return fail(ret_reason, what_chars);
        if (s[strlen(s) - 1] == '-')
                return fail(ret_reason, what_chars);
        return 0;
}

int validate_org_name(const char *s, const char **ret_reason) {
        return validate_group_part(s, ORG_NAME_MAX,
                                   "organisation name must not be empty",
                                   "organisation name must be at most 15 characters",
                                   "organisation name must start with a lower-case letter and contain only lower-case letters, digits and inner '-'",
                                   ret_reason);
}

int validate_dept_name(const char *s, const char **ret_reason) {
        return validate_group_part(s, DEPT_NAME_MAX,
                                   "department name must not be empty",
                                   "department name must be at most 16 characters",
                                   "department name must start with a lower-case letter and contain only lower-case letters, digits and inner '-'",
                                   ret_reason);
}

/* Counts characters, not bytes: "ñandú123" is 8 characters. */
int validate_utf8(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                unsigned cp;
                size_t n = utf8_decode(p, &cp);

                if (n == 0)
                        return -EINVAL;
                p += n;
        }
        return 0;
}

password_quality password_check(const char *s) {
        size_t chars = 0;

        if (!s)
                return PASSWORD_TOO_SHORT;
        if (strlen(s) > PASSWORD_MAX * 4)
                return PASSWORD_TOO_LONG;
        for (const unsigned char *p = (const unsigned char *) s; *p; chars++) {
                unsigned cp;
                size_t n = utf8_decode(p, &cp);

                if (n == 0)
                        return PASSWORD_NOT_UTF8;
                p += n;
        }
        if (chars < PASSWORD_MIN)
                return PASSWORD_TOO_SHORT;
        if (chars > PASSWORD_MAX)
                return PASSWORD_TOO_LONG;
        return PASSWORD_OK;
}

int validate_password(const char *s, const char **ret_reason) {
        switch (password_check(s)) {
        case PASSWORD_OK:
                return 0;
        case PASSWORD_TOO_SHORT:
                return fail(ret_reason, "password must be at least 8 characters");
        case PASSWORD_TOO_LONG:
                return fail(ret_reason, "password must be at most 1024 characters");
        case PASSWORD_NOT_UTF8:
        default:
                return fail(ret_reason, "password must be valid UTF-8");
        }
}

void email_normalize(char *s) {
        for (; s && *s; s++)
                if (*s >= 'A' && *s <= 'Z')
                        *s = (char) (*s - 'A' + 'a');
}
