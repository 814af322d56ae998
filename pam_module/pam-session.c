/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* session: the daemon registers the session (process, service, terminal,
 * remote host, start time), so that administrators see it and deactivation
 * ends it; closing removes it. The session's id is kept on the PAM handle
 * between the two calls (sshd makes both from the same process). */

#include "pam-client.h"

#include <stdlib.h>

#include "macro.h"

#define SESSION_DATA "nexalix_session_id"

static void free_data(pam_handle_t *pamh, void *data, int error_status) {
        free(data);
}

_visible_ int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        pam_options o;
        char *id = NULL;
        int r;

        nexalix_parse_options(pamh, argc, argv, &o);
        r = nexalix_converse(pamh, &o, LOGIN_STAGE_SESSION_OPEN, flags, NULL, &id);
        if (r == PAM_SUCCESS && id && pam_set_data(pamh, SESSION_DATA, id, free_data) == PAM_SUCCESS)
                return PAM_SUCCESS;
        free(id);
        return r;
}

_visible_ int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
        const void *id = NULL;
        pam_options o;

        if (pam_get_data(pamh, SESSION_DATA, &id) != PAM_SUCCESS || !id)
                return PAM_IGNORE;      /* not one of ours */
        nexalix_parse_options(pamh, argc, argv, &o);
        return nexalix_converse(pamh, &o, LOGIN_STAGE_SESSION_CLOSE, flags, id, NULL);
}
