/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* account: may this user log in now? Run by sshd for public-key logins
 * too, so a deactivated user is refused here whatever key they hold. */

#include "pam-client.h"

#include "macro.h"

_visible_ int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        pam_options o;

        nexalix_parse_options(pamh, argc, argv, &o);
        return nexalix_converse(pamh, &o, LOGIN_STAGE_ACCOUNT, flags, NULL, NULL);
}
