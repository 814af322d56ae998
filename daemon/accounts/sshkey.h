/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Users' SSH public keys (docs/login.md, "SSH public keys"): what a key is
 * (sshkey-format.c parses and checks one, computes its fingerprint) and what
 * may be done with keys (sshkey.c: add, list, remove; an organisation's
 * accepted types). sshd gets them from the keys snapshot that
 * host/publish-keys.c writes.
 *
 * Store: TABLE_SSH_KEYS, "user\0SHA256:fingerprint" -> u8 version, u8 type,
 * u32 bits, u64 created_at, string name, string line ("TYPE BASE64 NAME"). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "op.h"

/* The key types sshd accepts and Nexalix stores. The values are stable:
 * an organisation's accepted types are stored as a mask of 1 << type. */
typedef enum sshkey_type {
        SSHKEY_ED25519 = 0,             /* ssh-ed25519 */
        SSHKEY_ECDSA_P256 = 1,          /* ecdsa-sha2-nistp256 */
        SSHKEY_ECDSA_P384 = 2,          /* ecdsa-sha2-nistp384 */
        SSHKEY_ECDSA_P521 = 3,          /* ecdsa-sha2-nistp521 */
        SSHKEY_SK_ED25519 = 4,          /* sk-ssh-ed25519@openssh.com (FIDO) */
        SSHKEY_SK_ECDSA_P256 = 5,       /* sk-ecdsa-sha2-nistp256@openssh.com (FIDO) */
        SSHKEY_RSA = 6,                 /* ssh-rsa, at least 2048 bits */
        _SSHKEY_TYPE_MAX,
} sshkey_type;

#define SSHKEY_TYPES_ALL ((1u << _SSHKEY_TYPE_MAX) - 1)

/* Limits. */
#define SSHKEY_LINE_MAX (16 * 1024)     /* a key as given: "TYPE BASE64 [COMMENT]" */
#define SSHKEY_NAME_MAX 64              /* [A-Za-z0-9._@-]{1,64} */
#define SSHKEY_PER_USER_MAX 32
#define SSHKEY_RSA_BITS_MIN 2048
#define SSHKEY_RSA_BITS_MAX 16384       /* OpenSSH's own limit */
/* "SHA256:" and 43 characters of unpadded base64. */
#define SSHKEY_FINGERPRINT_MAX 50

const char *sshkey_type_to_string(sshkey_type t);
/* A short label for default key names: "ed25519", "ecdsa-p256", "rsa". */
const char *sshkey_type_label(sshkey_type t);
/* -EINVAL for a name that is no accepted type. */
int sshkey_type_from_string(const char *s);

/* A parsed public key. Strings are the parser's own (in the struct). */
typedef struct sshkey {
        sshkey_type type;
        uint32_t bits;                  /* RSA: the modulus; others: the curve's */
        char fingerprint[SSHKEY_FINGERPRINT_MAX + 1];
        char *base64;                   /* the blob as given (canonical base64) */
        char comment[SSHKEY_NAME_MAX + 1];      /* the comment when it is a valid name, else "" */
} sshkey;

void sshkey_done(sshkey *k);

/* Parses one public key in the form of a .pub file or an authorized_keys
 * line without options: "TYPE BASE64 [COMMENT]", surrounded by any white
 * space. Checks that the base64 decodes, that the type inside the blob is
 * the one declared, that the blob is exactly a key of that type (RSA:
 * e and n as mpints, n of SSHKEY_RSA_BITS_MIN to _MAX bits; ECDSA: the curve
 * named, an uncompressed point of the curve's size; Ed25519: 32 bytes), and
 * computes the fingerprint as ssh-keygen -l shows it. On failure returns
 * -EINVAL and a static explanation in *ret_reason ("RSA keys need at least
 * 2048 bits; this one has 1024"). */
int sshkey_parse(const char *text, sshkey *ret, const char **ret_reason);

/* Whether s is a valid key name: [A-Za-z0-9._@-]{1,64}. */
bool sshkey_name_valid(const char *s);

/* "SHA256:" + unpadded base64 of SHA-256(blob), as ssh-keygen -l prints. */
int sshkey_fingerprint(const void *blob, size_t size, char ret[static SSHKEY_FINGERPRINT_MAX + 1]);

/* ---- Keys in the store ---- */

typedef struct sshkey_record {
        char user[USERNAME_MAX + 1];
        char name[SSHKEY_NAME_MAX + 1];
        char fingerprint[SSHKEY_FINGERPRINT_MAX + 1];
        sshkey_type type;
        uint32_t bits;
        uint64_t created_at;
        const char *line;               /* "TYPE BASE64 NAME"; points into the record */
} sshkey_record;

/* Decodes a TABLE_SSH_KEYS entry (views into key and value). */
int sshkey_record_decode(const void *key, size_t key_size, const void *value, size_t value_size,
                         sshkey_record *ret);

/* Adds a key to username's account, audited as user.ssh-key.add. name NULL
 * or "": the key's comment when it is a valid name, else a name made of the
 * type and the fingerprint. The caller has checked who may (the user
 * themselves, or an administrator of their organisation: user_load_for()).
 * Refused: a malformed or weak key, a type the organisation does not
 * accept, a name or a key the user already has, more than
 * SSHKEY_PER_USER_MAX keys. *ret (may be NULL) is the new key; its line
 * points into ret_storage (freed by the caller). */
int sshkey_add(op *o, const char *username, const char *name, const char *text, sshkey_record *ret,
               char **ret_storage);

/* Removes the key named name_or_fingerprint ("SHA256:…" for a fingerprint),
 * audited as user.ssh-key.remove. *ret (may be NULL) is the removed key. */
int sshkey_remove(op *o, const char *username, const char *name_or_fingerprint, sshkey_record *ret);

/* username's keys in name order; fn returns 0 to go on, < 0 on error. */
int sshkey_foreach(store_txn *t, const char *username, int (*fn)(const sshkey_record *k, void *userdata),
                   void *userdata);

/* Whether username has any key in the store. */
int sshkey_user_has_keys(store_txn *t, const char *username);

/* The accepted types of a mask as names, "ssh-ed25519, ssh-rsa" (all when
 * mask is 0), into buf. */
const char *sshkey_types_to_text(uint32_t mask, char *buf, size_t size);
