/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Two-factor authentication: TOTP (RFC 6238, through liboath) and recovery
 * codes (docs/login.md, "Two-factor authentication").
 *
 * The secret (160 bits from libsodium's CSPRNG) lives only in the store:
 * never in the NSS snapshot, never returned after enrolment, never logged,
 * wiped from memory after use. A code is checked for the current time step
 * and one on either side (clock drift), in constant time; a step once
 * accepted for a user — and any step before it — is never accepted again,
 * recorded in the same transaction as the acceptance, so a code cannot be
 * replayed and two logins racing with one code cannot both win. Recovery
 * codes (10, 60 bits each, "xxxx-xxxx-xxxx") are stored as BLAKE2b hashes
 * and each is consumed in the transaction that accepts it.
 *
 * Enrolment happens in two steps, from the CLI or inside a login: begin
 * (a pending secret, valid TOTP_ENROLMENT_SECONDS, nothing changes at login
 * yet) and confirm (a correct code for the pending secret turns 2FA on and
 * makes the recovery codes, shown once). */

#include <stdbool.h>
#include <stdint.h>

#include "op.h"

#define TOTP_SECRET_BYTES 20
#define TOTP_DIGITS 6
#define TOTP_STEP_SECONDS 30
#define TOTP_ENROLMENT_SECONDS (10 * 60)
/* The secret in base32 (32 characters for 20 bytes) and the otpauth:// URI. */
#define TOTP_KEY_MAX 40
#define TOTP_URI_MAX 256

#define RECOVERY_CODE_COUNT 10
#define RECOVERY_CODE_CHARS 12         /* of a 32-letter alphabet: 60 bits */
typedef char recovery_code[RECOVERY_CODE_CHARS + 3];   /* "xxxx-xxxx-xxxx" */

typedef struct totp_status {
        bool enabled;
        uint64_t enabled_at;
        unsigned recovery_codes_left;
        bool pending;                   /* an enrolment begun and not yet confirmed or expired */
} totp_status;

int totp_status_get(store_txn *t, uint64_t now, const char *username, totp_status *ret);

/* Makes a new pending secret for username (replacing any pending one) and
 * returns it as base32 and as an otpauth:// URI; the caller wipes both.
 * -EBUSY when 2FA is on already. */
int totp_begin(op *o, const char *username, char ret_key[static TOTP_KEY_MAX],
               char ret_uri[static TOTP_URI_MAX]);

/* Checks code against the pending secret; a correct one turns 2FA on,
 * audited, and fills ret_codes with the new recovery codes. -EACCES for a
 * wrong code, -ENOENT when no enrolment is pending (or it expired), with
 * the refusal in o->error. */
int totp_confirm(op *o, const char *username, const char *code, recovery_code ret_codes[static RECOVERY_CODE_COUNT]);

typedef enum totp_accepted {
        TOTP_ACCEPTED_CODE,
        TOTP_ACCEPTED_RECOVERY_CODE,
} totp_accepted;

/* A code from the app, or a recovery code, for a user with 2FA on. -EACCES
 * when it is wrong, replayed or used up; -ENOENT when 2FA is off. A used
 * recovery code is audited. */
int totp_verify(op *o, const char *username, const char *code, totp_accepted *ret_how);

/* Turns 2FA off and drops the secret and the recovery codes, audited as
 * action ("user.2fa.disable" by the user, "user.2fa.reset" by an
 * administrator). -ENOENT when it was off. */
int totp_disable(op *o, const char *username, const char *action);

/* A new set of recovery codes; the old ones stop working. -ENOENT when 2FA
 * is off. */
int totp_new_recovery_codes(op *o, const char *username, recovery_code ret_codes[static RECOVERY_CODE_COUNT]);

/* Removes everything of username's 2FA (the user is being deleted). */
int totp_forget(op *o, const char *username);
