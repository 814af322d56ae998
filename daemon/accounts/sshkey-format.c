/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What an SSH public key is: the parser and checks of sshkey.h, written
 * here rather than asked of ssh-keygen (no process per request in the
 * daemon). The wire format is RFC 4253 section 6.6 (ssh-rsa), RFC 5656
 * section 3.1 (ECDSA), RFC 8709 (Ed25519) and OpenSSH's PROTOCOL.u2f (the
 * FIDO "sk-" types): a sequence of uint32-length-prefixed strings, the
 * first naming the type. */
#include "sshkey.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct type_info {
        const char *name;
        const char *label;      /* for default key names */
        uint32_t bits;          /* 0: from the key (RSA) */
        const char *curve;      /* ECDSA: the curve named inside the blob */
        size_t point_size;      /* ECDSA: uncompressed point, 1 + 2 * coordinate size */
        bool sk;                /* FIDO: an application string follows */
} type_info;

static const type_info TYPES[_SSHKEY_TYPE_MAX] = {
        [SSHKEY_ED25519] = { "ssh-ed25519", "ed25519", 256, NULL, 0, false },
        [SSHKEY_ECDSA_P256] = { "ecdsa-sha2-nistp256", "ecdsa-p256", 256, "nistp256", 65, false },
        [SSHKEY_ECDSA_P384] = { "ecdsa-sha2-nistp384", "ecdsa-p384", 384, "nistp384", 97, false },
        [SSHKEY_ECDSA_P521] = { "ecdsa-sha2-nistp521", "ecdsa-p521", 521, "nistp521", 133, false },
        [SSHKEY_SK_ED25519] = { "sk-ssh-ed25519@openssh.com", "sk-ed25519", 256, NULL, 0, true },
        [SSHKEY_SK_ECDSA_P256] = { "sk-ecdsa-sha2-nistp256@openssh.com", "sk-ecdsa-p256", 256, "nistp256", 65, true },
        [SSHKEY_RSA] = { "ssh-rsa", "rsa", 0, NULL, 0, false },
};

#define ED25519_KEY_SIZE 32
/* Longest FIDO application string accepted ("ssh:" and a name). */
#define SK_APPLICATION_MAX 256

/* A refusal that carries a number is formatted here; the daemon parses on
 * one thread, the unit test too. */
static _Thread_local char reason_buf[256];

const char *sshkey_type_to_string(sshkey_type t) {
        return (unsigned) t < _SSHKEY_TYPE_MAX ? TYPES[t].name : "unknown";
}

int sshkey_type_from_string(const char *s) {
        for (int i = 0; i < _SSHKEY_TYPE_MAX; i++)
                if (s && strcmp(s, TYPES[i].name) == 0)
                        return i;
        return -EINVAL;
}

const char *sshkey_types_to_text(uint32_t mask, char *buf, size_t size) {
        size_t n = 0;

        if (size == 0)
                return buf;
        buf[0] = 0;
        if (mask == 0)
                mask = SSHKEY_TYPES_ALL;
        for (int i = 0; i < _SSHKEY_TYPE_MAX; i++)
                if (mask & (1u << i)) {
                        int k = snprintf(buf + n, size - n, "%s%s", n ? ", " : "", TYPES[i].name);
                        if (k < 0 || (size_t) k >= size - n)
                                break;
                        n += (size_t) k;
                }
        return buf;
}

void sshkey_done(sshkey *k) {
        free(k->base64);
        *k = (sshkey) {};
}

bool sshkey_name_valid(const char *s) {
        size_t n = 0;

        if (!s)
                return false;
        for (; s[n]; n++)
                if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
                      (s[n] >= '0' && s[n] <= '9') || strchr("._@-", s[n])))
                        return false;
        return n >= 1 && n <= SSHKEY_NAME_MAX;
}

int sshkey_fingerprint(const void *blob, size_t size, char ret[static SSHKEY_FINGERPRINT_MAX + 1]) {
        unsigned char hash[crypto_hash_sha256_BYTES];

        if (crypto_hash_sha256(hash, blob, size) != 0)
                return -EIO;
        memcpy(ret, "SHA256:", 7);
        /* 32 bytes are 43 characters of base64 without padding, as
         * ssh-keygen prints them. */
        sodium_bin2base64(ret + 7, SSHKEY_FINGERPRINT_MAX + 1 - 7, hash, sizeof(hash),
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
        return 0;
}

/* ---- the blob ---- */

typedef struct blob_reader {
        const uint8_t *p, *end;
} blob_reader;

/* The next string: 0 and a view, or -EBADMSG when the blob ends first. */
static int read_string(blob_reader *b, const uint8_t **ret, size_t *ret_size) {
        uint32_t n;

        if (b->end - b->p < 4)
                return -EBADMSG;
        n = (uint32_t) b->p[0] << 24 | (uint32_t) b->p[1] << 16 | (uint32_t) b->p[2] << 8 | b->p[3];
        b->p += 4;
        if ((size_t) (b->end - b->p) < n)
                return -EBADMSG;
        *ret = b->p;
        *ret_size = n;
        b->p += n;
        return 0;
}

static bool string_is(const uint8_t *s, size_t n, const char *want) {
        return n == strlen(want) && memcmp(s, want, n) == 0;
}

/* An mpint (RFC 4251 section 5) that must be positive: its size in bits,
 * leading zero bytes not counted. */
static int mpint_bits(const uint8_t *s, size_t n, uint32_t *ret_bits, bool *ret_odd) {
        uint32_t bits;
        uint8_t top;

        if (n > 0 && (s[0] & 0x80))
                return -EDOM;                   /* negative */
        while (n > 0 && s[0] == 0)
                s++, n--;
        if (n == 0)
                return -EDOM;                   /* zero */
        if (n > SSHKEY_RSA_BITS_MAX / 8 + 1)
                return -E2BIG;
        for (top = s[0], bits = 0; top; top >>= 1)
                bits++;
        *ret_bits = (uint32_t) (n - 1) * 8 + bits;
        *ret_odd = s[n - 1] & 1;
        return 0;
}

static int refuse(const char **ret_reason, const char *reason) {
        if (ret_reason)
                *ret_reason = reason;
        return -EINVAL;
}

_printf_(2, 3)
static int refusef(const char **ret_reason, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(reason_buf, sizeof(reason_buf), fmt, ap);
        va_end(ap);
        return refuse(ret_reason, reason_buf);
}

/* Checks that blob is exactly a key of type t; *ret_bits as sshd counts. */
static int check_blob(sshkey_type t, const uint8_t *blob, size_t size, uint32_t *ret_bits,
                      const char **ret_reason) {
        const type_info *ti = &TYPES[t];
        blob_reader b = { blob, blob + size };
        const uint8_t *s;
        size_t n;
        uint32_t bits = ti->bits;

        if (read_string(&b, &s, &n) < 0)
                return refuse(ret_reason, "the key data is truncated");
        if (!string_is(s, n, ti->name)) {
                char inside[64];
                size_t k;

                /* Show what is inside, as text a terminal cannot be fooled by. */
                for (k = 0; k < n && k + 1 < sizeof(inside); k++)
                        inside[k] = s[k] >= 0x21 && s[k] < 0x7F ? (char) s[k] : '?';
                inside[k] = 0;
                return refusef(ret_reason, "the key is declared as %s but its data holds a '%s' key",
                               ti->name, inside);
        }

        if (t == SSHKEY_RSA) {
                const uint8_t *e, *m;
                size_t ne, nm;
                uint32_t ebits;
                bool odd;
                int r;

                if (read_string(&b, &e, &ne) < 0 || read_string(&b, &m, &nm) < 0)
                        return refuse(ret_reason, "the RSA key data is truncated");
                r = mpint_bits(e, ne, &ebits, &odd);
                if (r < 0 || ebits > 64 || !odd || ebits < 2)
                        return refuse(ret_reason, "the RSA key has an invalid public exponent");
                r = mpint_bits(m, nm, &bits, &odd);
                if (r == -E2BIG)
                        return refusef(ret_reason, "RSA keys may have at most %u bits", SSHKEY_RSA_BITS_MAX);
                if (r < 0 || !odd)
                        return refuse(ret_reason, "the RSA key has an invalid modulus");
                if (bits < SSHKEY_RSA_BITS_MIN)
                        return refusef(ret_reason,
                                       "RSA keys need at least %u bits; this one has %u — make a new key, e.g. with ssh-keygen -t ed25519",
                                       SSHKEY_RSA_BITS_MIN, bits);
                if (bits > SSHKEY_RSA_BITS_MAX)
                        return refusef(ret_reason, "RSA keys may have at most %u bits", SSHKEY_RSA_BITS_MAX);
        } else if (ti->curve) {
                if (read_string(&b, &s, &n) < 0)
                        return refuse(ret_reason, "the ECDSA key data is truncated");
                if (!string_is(s, n, ti->curve))
                        return refusef(ret_reason, "the %s key names another curve than %s", ti->name, ti->curve);
                if (read_string(&b, &s, &n) < 0)
                        return refuse(ret_reason, "the ECDSA key data is truncated");
                /* Uncompressed (0x04, x, y), the only form OpenSSH writes. */
                if (n != ti->point_size || s[0] != 0x04)
                        return refusef(ret_reason, "the %s key's point is not an uncompressed point of %s",
                                       ti->name, ti->curve);
        } else {
                if (read_string(&b, &s, &n) < 0)
                        return refuse(ret_reason, "the Ed25519 key data is truncated");
                if (n != ED25519_KEY_SIZE)
                        return refuse(ret_reason, "an Ed25519 key is 32 bytes; this one is not");
        }
        if (ti->sk) {
                if (read_string(&b, &s, &n) < 0)
                        return refuse(ret_reason, "the security key's application is missing");
                if (n == 0 || n > SK_APPLICATION_MAX)
                        return refuse(ret_reason, "the security key's application is empty or too long");
        }
        if (b.p != b.end)
                return refuse(ret_reason, "the key data has bytes after the key");
        *ret_bits = bits;
        return 0;
}

/* ---- the text ---- */

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A word that looks like a key type someone meant, for better refusals. */
static bool looks_like_type(const char *s, size_t n) {
        static const char *const prefixes[] = { "ssh-", "ecdsa-", "sk-", "rsa-", "x509v3-" };
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (n > strlen(prefixes[i]) && strncmp(s, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        return false;
}

/* Refusals for what is not a key of an accepted type. */
static int refuse_type(const char *text, const char *type, size_t type_len, const char **ret_reason) {
        char name[80];

        snprintf(name, sizeof(name), "%.*s", (int) (type_len < 70 ? type_len : 70), type);
        for (char *c = name; *c; c++)
                if ((unsigned char) *c < 0x21 || (unsigned char) *c >= 0x7F)
                        *c = '?';
        if (strcmp(name, "ssh-dss") == 0)
                return refuse(ret_reason,
                              "DSA (ssh-dss) keys are refused: they are weak and OpenSSH no longer accepts them — make a new key, e.g. with ssh-keygen -t ed25519");
        if (strstr(name, "-cert-v01@openssh.com") || strncmp(name, "x509v3-", 7) == 0)
                return refuse(ret_reason,
                              "certificates are not accepted here: add the public key itself (sshd checks certificates against TrustedUserCAKeys)");
        if (strncmp(text, "-----BEGIN", 10) == 0 && strstr(text, "PRIVATE KEY"))
                return refuse(ret_reason, "this is a private key: never hand it out — give the public key (the .pub file)");
        if (strncmp(text, "---- BEGIN SSH2 PUBLIC KEY", 26) == 0)
                return refuse(ret_reason,
                              "this is an RFC 4716 (SSH2) public key: convert it with ssh-keygen -i -f FILE and add the result");
        if (strcmp(name, "rsa-sha2-256") == 0 || strcmp(name, "rsa-sha2-512") == 0)
                return refuse(ret_reason, "rsa-sha2-256 and rsa-sha2-512 name signatures: an RSA public key line starts with ssh-rsa");
        if (looks_like_type(type, type_len)) {
                char accepted[256];
                return refusef(ret_reason, "key type '%s' is not accepted; accepted types: %s", name,
                               sshkey_types_to_text(0, accepted, sizeof(accepted)));
        }
        /* authorized_keys options before the type ("from=… ssh-ed25519 …"). */
        for (const char *p = text; *p; p++) {
                size_t n = strcspn(p, " \t\r\n");
                char word[64];
                snprintf(word, sizeof(word), "%.*s", (int) (n < 63 ? n : 63), p);
                if (p != text && sshkey_type_from_string(word) >= 0)
                        return refuse(ret_reason,
                                      "authorized_keys options (from=, command=, …) are not accepted: give the public key alone, as in a .pub file");
                p += n;
                if (!*p)
                        break;
        }
        return refuse(ret_reason, "not an SSH public key: expected 'TYPE BASE64 [COMMENT]', as in a .pub file");
}

int sshkey_parse(const char *text, sshkey *ret, const char **ret_reason) {
        _cleanup_free_ uint8_t *blob = NULL;
        _cleanup_free_ char *b64 = NULL;
        const char *p, *type, *data, *comment, *b64_end;
        size_t type_len, data_len, comment_len, blob_size, max;
        sshkey k = {};
        int t, r;

        if (!text)
                return refuse(ret_reason, "no key given");
        if (strnlen(text, SSHKEY_LINE_MAX + 1) > SSHKEY_LINE_MAX)
                return refusef(ret_reason, "the key is longer than %u bytes", SSHKEY_LINE_MAX);

        for (p = text; is_space(*p); p++)
                ;
        if (!*p)
                return refuse(ret_reason, "no key given");
        type = p;
        type_len = strcspn(p, " \t\r\n");
        t = -EINVAL;
        if (type_len < 64) {
                char name[64];
                memcpy(name, type, type_len);
                name[type_len] = 0;
                t = sshkey_type_from_string(name);
        }
        if (t < 0)
                return refuse_type(p, type, type_len, ret_reason);

        for (p = type + type_len; *p == ' ' || *p == '\t'; p++)
                ;
        data = p;
        data_len = strcspn(p, " \t\r\n");
        if (data_len == 0)
                return refuse(ret_reason, "the key has no base64 data after its type");
        for (p = data + data_len; *p == ' ' || *p == '\t'; p++)
                ;
        comment = p;
        comment_len = strcspn(p, "\r\n");
        /* Only white space may follow the line: one key at a time. */
        for (p = comment + comment_len; *p; p++)
                if (!is_space(*p))
                        return refuse(ret_reason, "more than one line given: add one key at a time");
        while (comment_len > 0 && (comment[comment_len - 1] == ' ' || comment[comment_len - 1] == '\t'))
                comment_len--;

        /* The base64, strictly: padded, nothing ignored, no stray bits
         * (libsodium refuses non-zero padding bits), so that one key has
         * one text and one fingerprint. */
        b64 = strndup(data, data_len);
        max = data_len / 4 * 3 + 3;
        blob = malloc(max);
        if (!b64 || !blob)
                return -ENOMEM;
        if (sodium_base642bin(blob, max, b64, data_len, NULL, &blob_size, &b64_end,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            b64_end != b64 + data_len || blob_size == 0)
                return refuse(ret_reason, "the key's base64 data is malformed (a line cut or changed when copied?)");

        r = check_blob((sshkey_type) t, blob, blob_size, &k.bits, ret_reason);
        if (r < 0)
                return r;
        r = sshkey_fingerprint(blob, blob_size, k.fingerprint);
        if (r < 0)
                return r;
        k.type = (sshkey_type) t;
        if (comment_len > 0 && comment_len <= SSHKEY_NAME_MAX) {
                memcpy(k.comment, comment, comment_len);
                k.comment[comment_len] = 0;
                if (!sshkey_name_valid(k.comment))
                        k.comment[0] = 0;
        }
        k.base64 = TAKE_PTR(b64);
        *ret = k;
        return 0;
}

const char *sshkey_type_label(sshkey_type t) {
        return (unsigned) t < _SSHKEY_TYPE_MAX ? TYPES[t].label : "key";
}
