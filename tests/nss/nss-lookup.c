/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Test helper: one getpwnam_r through the module loaded with dlopen(), the
 * answer on stdout (SUCCESS uid, NOTFOUND, UNAVAIL, TRYAGAIN). Used by the
 * setuid test, so it links nothing but libc.
 *
 *     nss-lookup MODULE_PATH NAME
 */

#include "nss-test.h"

int main(int argc, char **argv) {
        nss_module m;
        struct passwd pw;
        char buf[1024];
        int e = 0;

        if (argc != 3) {
                fprintf(stderr, "usage: %s MODULE_PATH NAME\n", argv[0]);
                return 2;
        }
        nss_module_load(argv[1], &m);
        switch (m.getpwnam_r(argv[2], &pw, buf, sizeof(buf), &e)) {
        case NSS_STATUS_SUCCESS:
                printf("SUCCESS %u\n", (unsigned) pw.pw_uid);
                break;
        case NSS_STATUS_NOTFOUND:
                printf("NOTFOUND\n");
                break;
        case NSS_STATUS_UNAVAIL:
                printf("UNAVAIL\n");
                break;
        case NSS_STATUS_TRYAGAIN:
                printf("TRYAGAIN\n");
                break;
        default:
                printf("OTHER\n");
        }
        return 0;
}
