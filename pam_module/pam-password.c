/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* password: changing a Nexalix password (passwd). In the preliminary pass
 * the daemon says whether the user is one of its own; in the update pass it
 * asks for the current password (unless the program runs for root) and the
 * new one twice, and writes the new hash. */

#include "pam-client.h"

#include "macro.h"

_visible_ int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        pam_options o;

        nexalix_parse_options(pamh, argc, argv, &o);
        return nexalix_converse(pamh, &o,
                                (flags & PAM_PRELIM_CHECK) ? LOGIN_STAGE_PASSWORD_CHECK : LOGIN_STAGE_PASSWORD,
                                flags, NULL, NULL);
}
