/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One-time links (docs/links.md): invitations, password resets and email
 * verification. A link carries a token of 256 bits from libsodium's CSPRNG;
 * only its BLAKE2b hash is stored, and the token is found by that hash, so
 * the store never holds anything that would redeem a link. A link is
 * consumed in the write transaction that applies its effect; a newer link of
 * the same purpose for the same user, a password change (for reset links)
 * and deactivation void it; its expiry is checked against the clock. Every
 * link issued, redeemed, expired or voided is audited — never its token. */

#include <stdbool.h>
#include <stdint.h>

#include "op.h"
#include "user.h"

typedef enum link_purpose {
        LINK_INVITE,            /* set the first password: activates, verifies the email */
        LINK_RESET_ADMIN,       /* an administrator's password reset */
        LINK_RESET_SELF,        /* "forgot password" */
        LINK_VERIFY_EMAIL,      /* confirm an address (a new one, or one an administrator set) */
        _LINK_PURPOSE_MAX,
} link_purpose;

#define LINK_TOKEN_BYTES 32
#define LINK_TOKEN_CHARS 43             /* base64url, no padding */

/* How long each kind of link is valid. */
uint64_t link_lifetime(link_purpose p);
const char *link_purpose_to_string(link_purpose p);

/* Issues a link of purpose p for user u (voiding an older one of the same
 * purpose), audits it and mails it to `to` in the user's language. The
 * caller decides whether the address may receive mail. */
int onetime_issue(op *o, const user *u, link_purpose p, const char *to);

/* What a token is for, without consuming it (nexalixctl asks before it
 * prompts for a password). -ENOENT (with a message in o->error) when the
 * token is unknown, used or voided; -ETIME when it expired, which removes
 * and audits it in o's transaction (commit o for that to stick). */
typedef struct link_info {
        link_purpose purpose;
        char username[USERNAME_MAX + 1];
        uint64_t expires_at;
} link_info;
int onetime_check(op *o, const char *token, link_info *ret);

/* Redeems a token: an invitation or a reset with password_hash (an argon2id
 * string), an email verification with NULL. Everything happens in o's
 * transaction: the link is consumed, the effect applied (a reset also asks
 * that every session end: op_request_termination). An expired link is
 * removed and audited, and -ETIME returned — the caller must commit for
 * that to stick. -ENOENT for an unknown token, -EBUSY when the account is
 * not in a state the link applies to. Refusals are in o->error. */
int onetime_redeem(op *o, const char *token, const char *password_hash, link_info *ret);

/* Voids the user's pending link of purpose p, if any (audited). */
int onetime_void(op *o, const char *username, link_purpose p);
/* Voids every pending link of the user; *ret_count (may be NULL) says how
 * many. */
int onetime_void_all(op *o, const char *username, unsigned *ret_count);

/* ---- the flows ---- */

/* An administrator: a fresh invitation for an invited user (the old link
 * stops working). */
int onetime_invite_again(op *o, const char *username);
/* An administrator: a password-reset link (24 h) to the user's verified
 * address. */
int onetime_start_reset(op *o, const char *username);
/* Anyone: a reset link (1 h) to the address, if it is the verified address
 * of an active account. The request only counts the rate limits and queues
 * the address — the same writes whatever the address — and returns 0;
 * -EAGAIN (o->error says "too many requests") past a limit, per address or
 * per caller — which one is not told. The counters are written in o's
 * transaction: commit it on -EAGAIN too. */
int onetime_forgot_password(op *o, const char *email);
/* Takes the oldest queued request and, with process, issues its link
 * (the daemon runs this about once a second, apart from any request, one
 * request per transaction); without process it only drops it (a request
 * that failed). *ret_more: whether there was one. */
int onetime_process_forgotten(op *o, bool process, bool *ret_more);
/* The caller: a verification link to a new address; the current one stays
 * in use until the new one is confirmed. */
int onetime_change_email(op *o, const char *new_email);
/* The caller: a fresh verification link (to the pending new address, or to
 * the current unverified one); the previous link stops working. */
int onetime_resend_verification(op *o);
