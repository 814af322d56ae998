/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the four management groups of pam_nexalix.so share: the module's
 * options and one conversation with nexalixd over its login socket. The
 * module decides nothing itself: the daemon drives the conversation and
 * gives the verdict; the module relays prompts and answers through the PAM
 * conversation and maps the verdict to a PAM code.
 *
 * Inside sshd, login, su and screen lockers, it must never abort, exit,
 * leak a descriptor or hang its host: every descriptor is close-on-exec,
 * sends use MSG_NOSIGNAL, and every wait for the daemon is bounded by
 * poll() (timeout=, 10 s by default). With the daemon unreachable it answers
 * PAM_AUTHINFO_UNAVAIL, which the recommended stack lets fall through to
 * pam_unix, so local accounts never depend on Nexalix. */

#include <security/pam_modules.h>
#include <stdbool.h>

#include "login-protocol.h"

#define NEXALIX_PAM_TIMEOUT_MS_DEFAULT 10000

typedef struct pam_options {
        bool debug;
        bool use_first_pass, try_first_pass;
        bool allow_token;
        int timeout_ms;                 /* for each wait on the daemon */
        char socket_path[108];          /* sizeof(sockaddr_un.sun_path) */
} pam_options;

/* Parses the module's arguments (debug, use_first_pass, try_first_pass,
 * allow_token, timeout=SECONDS, runtime=DIR); unknown ones are logged and
 * ignored, as PAM modules do. */
void nexalix_parse_options(pam_handle_t *pamh, int argc, const char **argv, pam_options *ret);

/* One conversation for stage about the PAM user: connects, relays, returns
 * the PAM code. session_id goes with SESSION_CLOSE; *ret_data (may be NULL)
 * receives what the daemon returned with its verdict (the id of an opened
 * session), allocated. */
int nexalix_converse(pam_handle_t *pamh, const pam_options *o, login_stage stage, int flags,
                     const char *session_id, char **ret_data);
