/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The field rules of docs/architecture.md "Users", one case at a time. */

#include "test-util.h"
#include "validate.h"

#include <errno.h>

static void test_username(void) {
        const char *reason = NULL;
        char long_name[40];

        CHECK_INT(validate_username("alice", NULL), 0);
        CHECK_INT(validate_username("_svc", NULL), 0);
        CHECK_INT(validate_username("a1_b-c", NULL), 0);
        CHECK_INT(validate_username("a", NULL), 0);
        memset(long_name, 'a', 32);
        long_name[32] = 0;
        CHECK_INT(validate_username(long_name, NULL), 0);
        long_name[32] = 'a';
        long_name[33] = 0;
        CHECK_INT(validate_username(long_name, &reason), -EINVAL);
        CHECK_STR(reason, "username must be at most 32 characters");

        CHECK_INT(validate_username("", NULL), -EINVAL);
        CHECK_INT(validate_username(NULL, NULL), -EINVAL);
        CHECK_INT(validate_username("Alice", &reason), -EINVAL);
        CHECK_STR(reason, "username must start with a lower-case letter or '_'");
        CHECK_INT(validate_username("1abc", NULL), -EINVAL);
        CHECK_INT(validate_username("-abc", NULL), -EINVAL);
        CHECK_INT(validate_username("ab c", NULL), -EINVAL);
        CHECK_INT(validate_username("ab:c", NULL), -EINVAL);
        CHECK_INT(validate_username("ab.c", NULL), -EINVAL);
        CHECK_INT(validate_username("abc$", NULL), -EINVAL);
        CHECK_INT(validate_username("ab\nc", NULL), -EINVAL);
        CHECK_INT(validate_username("jos\xc3\xa9", NULL), -EINVAL);
        /* Upper case is refused anywhere, not only first. */
        CHECK_INT(validate_username("aLice", &reason), -EINVAL);
        CHECK_STR(reason, "username may contain only lower-case letters, digits, '_' and '-'");
        CHECK_INT(validate_username("alicE", NULL), -EINVAL);
}

static void test_group_name(void) {
        const char *reason = NULL;

        CHECK_INT(validate_group_name("alice", NULL), 0);
        CHECK_INT(validate_group_name("acme.org-admin", NULL), 0);
        CHECK_INT(validate_group_name("acme.support", NULL), 0);
        CHECK_INT(validate_group_name("acme.Support", &reason), -EINVAL);
        CHECK_STR(reason, "group name may contain only lower-case letters, digits, '_', '-' and '.'");
        CHECK_INT(validate_group_name(".acme", NULL), -EINVAL);
        CHECK_INT(validate_group_name("acme:x", NULL), -EINVAL);
        CHECK_INT(validate_group_name("", NULL), -EINVAL);
        CHECK_INT(validate_group_name("abcdefghijklmnop.abcdefghijklmnop", NULL), -EINVAL);
        /* Every name the daemon builds fits: 15 + 1 + 16. */
        CHECK_INT(validate_group_name("abcdefghijklmno.abcdefghijklmnop", NULL), 0);
}

static void test_person_name(void) {
        const char *reason = NULL;

        CHECK_INT(validate_person_name("Alice", NULL), 0);
        CHECK_INT(validate_person_name("Jos\xc3\xa9 Mar\xc3\xad" "a", NULL), 0);      /* José María */
        CHECK_INT(validate_person_name("O'Brien-Smith", NULL), 0);
        CHECK_INT(validate_person_name("\xe7\x8e\x8b", NULL), 0);                  /* 王 */
        CHECK_INT(validate_person_name("", NULL), -EINVAL);
        CHECK_INT(validate_person_name("Ali:ce", &reason), -EINVAL);
        CHECK_STR(reason, "names must not contain ':'");
        CHECK_INT(validate_person_name("Ali\nce", &reason), -EINVAL);
        CHECK_STR(reason, "names must not contain control characters");
        CHECK_INT(validate_person_name("Ali\tce", NULL), -EINVAL);
        CHECK_INT(validate_person_name("Ali\x7f" "ce", NULL), -EINVAL);
        CHECK_INT(validate_person_name("Ali\xc2\x85" "ce", NULL), -EINVAL);      /* U+0085, a C1 control */
        CHECK_INT(validate_person_name("Ali\xff" "ce", &reason), -EINVAL);
        CHECK_STR(reason, "names must be valid UTF-8");
        CHECK_INT(validate_person_name("\xc0\xaf", NULL), -EINVAL);              /* overlong '/' */
        CHECK_INT(validate_person_name("\xed\xa0\x80", NULL), -EINVAL);          /* surrogate */
        CHECK_INT(validate_person_name(" Alice", NULL), -EINVAL);
        CHECK_INT(validate_person_name("Smith, John", NULL), -EINVAL);
}

static void test_email(void) {
        CHECK_INT(validate_email("alice@example.com", NULL), 0);
        CHECK_INT(validate_email("Alice.Liddell+tag@mail.example.co.uk", NULL), 0);
        CHECK_INT(validate_email("a@b.io", NULL), 0);
        CHECK_INT(validate_email("", NULL), -EINVAL);
        CHECK_INT(validate_email("alice", NULL), -EINVAL);
        CHECK_INT(validate_email("alice@", NULL), -EINVAL);
        CHECK_INT(validate_email("@example.com", NULL), -EINVAL);
        CHECK_INT(validate_email("alice@example", NULL), -EINVAL);
        CHECK_INT(validate_email("alice@@example.com", NULL), -EINVAL);
        CHECK_INT(validate_email("al ice@example.com", NULL), -EINVAL);
        CHECK_INT(validate_email("alice@exa mple.com", NULL), -EINVAL);
        CHECK_INT(validate_email("alice@-example.com", NULL), -EINVAL);
        CHECK_INT(validate_email("alice@example..com", NULL), -EINVAL);
        CHECK_INT(validate_email(".alice@example.com", NULL), -EINVAL);
        CHECK_INT(validate_email("alice.@example.com", NULL), -EINVAL);
        CHECK_INT(validate_email("alice@example.com\n", NULL), -EINVAL);
        CHECK_INT(validate_email("ali\"ce@example.com", NULL), -EINVAL);
}

static void test_language_and_names(void) {
        CHECK_INT(validate_language("en", NULL), 0);
        CHECK_INT(validate_language("es", NULL), 0);
        CHECK_INT(validate_language("pt", NULL), 0);
        CHECK_INT(validate_language("fr", NULL), -EINVAL);
        CHECK_INT(validate_language("EN", NULL), -EINVAL);
        CHECK_INT(validate_language(NULL, NULL), -EINVAL);

        CHECK_INT(validate_org_name("acme", NULL), 0);
        CHECK_INT(validate_org_name("acme-2", NULL), 0);
        CHECK_INT(validate_org_name("acme-", NULL), -EINVAL);
        CHECK_INT(validate_org_name("Acme", NULL), -EINVAL);
        CHECK_INT(validate_org_name("ac_me", NULL), -EINVAL);
        CHECK_INT(validate_org_name("a23456789012345", NULL), 0);
        CHECK_INT(validate_org_name("a234567890123456", NULL), -EINVAL);
        CHECK_INT(validate_dept_name("support", NULL), 0);
        CHECK_INT(validate_dept_name("a2345678901234567", NULL), -EINVAL);
        CHECK_INT(validate_dept_name("", NULL), -EINVAL);
}

static void test_password(void) {
        char big[PASSWORD_MAX + 2];

        CHECK_INT(validate_password("12345678", NULL), 0);
        CHECK_INT(validate_password("1234567", NULL), -EINVAL);
        CHECK_INT(validate_password("", NULL), -EINVAL);
        CHECK_INT(validate_password(NULL, NULL), -EINVAL);
        /* Characters, not bytes: 7 two-byte characters are too short. */
        CHECK_INT(validate_password("\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1", NULL), -EINVAL);
        CHECK_INT(validate_password("\xc3\xb1" "andu1234", NULL), 0);
        CHECK_INT(validate_password("abcdefg\xff", NULL), -EINVAL);
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        CHECK_INT(validate_password(big, NULL), -EINVAL);
}

static void test_email_normalize(void) {
        char s[] = "Alice.Liddell@Example.COM";
        email_normalize(s);
        CHECK_STR(s, "alice.liddell@example.com");
}

int main(void) {
        test_username();
        test_group_name();
        test_person_name();
        test_email();
        test_language_and_names();
        test_password();
        test_email_normalize();
        return test_result("test-validate");
}
