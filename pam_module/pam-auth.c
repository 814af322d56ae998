/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* auth: the daemon asks for the password (and, once it is right, whatever
 * else the user's organisation requires) and gives the verdict. */

#include "pam-client.h"

#include "macro.h"

_visible_ int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        pam_options o;

        nexalix_parse_options(pamh, argc, argv, &o);
        return nexalix_converse(pamh, &o, LOGIN_STAGE_AUTH, flags, NULL, NULL);
}

/* Nexalix issues no credentials of its own (groups come from NSS). */
_visible_ int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        return PAM_SUCCESS;
}
