/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SSH public keys: the parser and its checks (sshkey-format.c) against keys
 * ssh-keygen made, with the fingerprints ssh-keygen -l printed for them
 * (and, where ssh-keygen is installed, against freshly generated keys); the
 * store logic (sshkey.c: add, list, remove, limits, an organisation's
 * accepted types); and the keys snapshot (publish-keys.c and the
 * keys-snapshot reader): who is in it, its mode, its generation, and a
 * damaged file refused. */

#include "keys-snapshot.h"
#include "local-accounts.h"
#include "org.h"
#include "publish-keys.h"
#include "snapshot-writer.h"
#include "sshkey.h"
#include "store.h"
#include "test-util.h"
#include "user.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Made with ssh-keygen (OpenSSH 9.2); the FIDO ones by hand from the same
 * points, since making them needs a token. FP_*: what `ssh-keygen -lf`
 * printed for each. */
#define KEY_ED25519 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdAC0lhomhDQV3Ih//rFZUzxKSBTMuYAduIlJlmix3k fixture-ed25519"
#define FP_ED25519 "SHA256:SrSnZ7tOz02OWcGkGIm8PFrbF0YaMVpic/Cd81ff1sU"
#define KEY_ECDSA256 "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBL8+RjEBF707SiQ0YBYcfFGizfGDEl+O5LwM10iuxaj9g09vuCcvZ8zgrhwIqK33t6cNKZvgrPSH0T4TbbhEA4U= fixture-ecdsab256"
#define FP_ECDSA256 "SHA256:fuq5pGyqnjYy/l5ObZe+5zVX0YsvFzlz8GSQkqvs66I"
#define KEY_ECDSA384 "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBI4ha2gYKtDB+YVcmlCPIwwC++Bvv+rNzECwjVyplPfUMgm5VS6XYn0CL7g1coSDSYmU+8BTrrJarZcChbG+U4vtkpaseRenBU+FO0yvwB73MZi8VnSAu0hX3id3S/fHcQ== fixture-ecdsab384"
#define FP_ECDSA384 "SHA256:r934XAodu8kPfbbHsIeu4lSIFRUBFo2s+fdKCgpVTV4"
#define KEY_ECDSA521 "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBADYAXRdOKqcJlg1RUjag2uxeMrEYe2Q8Foi1RlY2h7A/1D+toWRtRnhOB5jWyQjCkUyZZAqw9psX+6xru9ldZqXXQDqRNa8kiCVAdWtXIcbOfAMccg9zfoMjZ+8ONcJB2+bdC8hYEB3kQ50y9pZfa29A/QWkzL2plqznnbjHzyPf7irNg== fixture-ecdsab521"
#define FP_ECDSA521 "SHA256:2CR8TYS3lj+8pOI37NvjGPA09fQQeWQ78U5uQtm/wOM"
#define KEY_SK_ED25519 "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIJdAC0lhomhDQV3Ih//rFZUzxKSBTMuYAduIlJlmix3kAAAABHNzaDo= fixture-sked25519"
#define FP_SK_ED25519 "SHA256:1VN8gW4gVO5U4Ul25BH/jYdBcziag3BBAJ+yUh4gE2Q"
#define KEY_SK_ECDSA "sk-ecdsa-sha2-nistp256@openssh.com AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBL8+RjEBF707SiQ0YBYcfFGizfGDEl+O5LwM10iuxaj9g09vuCcvZ8zgrhwIqK33t6cNKZvgrPSH0T4TbbhEA4UAAAAEc3NoOg== fixture-skecdsa"
#define FP_SK_ECDSA "SHA256:QWaBY5KDWnekYLW9vZeRjPtv7VsvGWmrzpPZZcWPJzU"
#define KEY_RSA2048 "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCW20DHI27dNaaVlfbD7vKp5Ua/6dIQUfvKaX64JBK6RcoAl0bPaLkQli9SKE9OwsXW2u4Qq9bjlyWSv3IhiD9IekSvZRcrl8ZCGohCkY8FCV1h6aECe1cqVQnCj8re//Oii9+M8PeY5J10bhuOTmdGdWSATBUv5qYuCsbbExazLb1Zs28o4lWQGce36tNmt3LOfwoYPFsvO+HiBrui44Pwp0Ckt64et0vH5amQ5T7+3UW4idw/0OiW5rs9IJvzUzvS9LIi4ufAL3F4daPh+dYyCZ+hQH89B41PJAws+FmwnksuN2+P1xqRdt5LGjoOMnzMAVeebbtKHToW/LXRMUdt fixture-rsab2048"
#define FP_RSA2048 "SHA256:UkhNptAGaNEcUJmf+OdQmhQkkusrd6904mLJutLwj+M"
#define KEY_RSA4096 "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQCndc5/o3i5eXZhAibVX31x6MX4v5J0oFLQ0vAmRn0QSClxpwi+4QpcI5CbPTiDyh16T2LEgYaUd+u+0TUebdNeSeY/dL3cEcQizkXnJfHBsFPUjtHiyyXEB68UUomTMrj7bRc1C8cSpfAlhEz9JxSMOPPkRz1cVb2ZuARY/fg6nUvKQuHM4Vje6t8ATTBs4H4bKGcdwKQ08ExXPAxOehD5WM1WGgcBfe3d2TbE+0HvOvOaPH0HbzzZfYm5//udYdhjCCgbRjDYDrMRIp31Si0Y/fZRXrv9QUU8mb5ryhRHzFqAA97MWRswFWi++W2IIIwLc+B/wsM7JKI/HpEB6KhiDdH1PHjCfHMB3iEGJ8FXD/ZMhkuLlXjVvjt59fmEUYCxbtOSWl5kiGSTxw890nM0Y9LrroMYJbElUR7SnBIdoQxph/YRWPh5n8qeOdtpgs4AR9jwaRMrAOWwakbE6w0dwULymc4xyRztcKjnxGrYAunSlhjK5pq5cisEGY10bF2Qi0YGo1ujHjf70iONzxY5Z+cpKBqg7l2ix5BR61MjZ8HlS7ZHqLcmNUHFUjSPzGdhxTwsuFF+X8IJ3WulkBbr2u6HZ+lOgDgJ1MlqQLcCXLFT6NZq8la+jrKZk9s5Sq8ieuS3DBYhivOGB1vSqZIQk7SMxGUun1ZQtl2v3BpAwQ== fixture-rsab4096"
#define FP_RSA4096 "SHA256:voqOnGuwQhW+7ABaGgCKUa5bC3jw5kze7oNs1WrFJjg"
#define KEY_RSA1024 "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDYymCXzVG55eFyXVGXUypBB6nuMTXRlvktNNqDVRsCst+hoWWzVvjwc0wG1yun8Sb3ZrUDh8goOXypFzxXmC5QZIftdB3OSkaEPk++gw6sgtYcb4D6K53Mvxz3Xfdi3Z86V3/oBHs6yqC5Qq6bYQ9M09XRxOb/3ks5SQr7gpF4Iw== fixture-rsab1024"
#define KEY_DSA "ssh-dss AAAAB3NzaC1kc3MAAACBAJuCV4W6qOKo6POSyIf6PThuuUbB4pncI9siEC79wAsuhetZR48D91/29/JFLXMqp32WEtuVp00SW7g5Ocr1qazk6f5MqNoXlFSxADLd6CVYulfWEbXgxUUWzIBfxFFXmrp4m9dQo+slQ1URb5Zok5nHY5RXFfUpfK+l4y4dK+AlAAAAFQCmgjc5ASoZh9FTN1jMIXhji17j1wAAAIAIMhqf7Bv2HuJLBGh3ITciHv1WdRBylobEClehvXL3jUHzOVrN2cOlPet7lgm0xQrs59x9hcVefMJYMfROAi4SPYgwn61ruMz3jF0TtDq1ZFL5Q5DvDtvTzTM6LxQWjnWyiXEVHOPo03cUY6s5uK9DUDi4DCteTpGhtHAVSFsB+gAAAIA+0ImlTXlm21FO6NvutG8r9alDZvBxn1s73RnZ0i7r3OaFE3crZfB3mlLabvEhkg186rbAbjxrS0IlfINDsGgDyVaUHqFhWTaX1n2s7XolLKX05cdx+KcG2kIBkkI5vBb1d5krOapFwEq3yNQQa9Z6RcIcBROArfWayok65OfBvg== fixture-dsa"
/* The Ed25519 blob alone, for keys made by hand below. */
#define B64_ED25519 "AAAAC3NzaC1lZDI1NTE5AAAAIJdAC0lhomhDQV3Ih//rFZUzxKSBTMuYAduIlJlmix3k"

static char dir[] = "/tmp/nexalix-test-sshkey-XXXXXX";
static config cfg;
static accounts acc;

/* ---- the parser ---- */

static void check_good(const char *text, sshkey_type type, uint32_t bits, const char *fp, const char *comment) {
        const char *reason = NULL;
        sshkey k = {};
        int r = sshkey_parse(text, &k, &reason);

        CHECK_INT(r, 0);
        if (r < 0) {
                fprintf(stderr, "  refused: %s\n", reason);
                return;
        }
        CHECK_INT(k.type, type);
        CHECK_INT(k.bits, bits);
        CHECK_STR(k.fingerprint, fp);
        CHECK_STR(k.comment, comment);
        CHECK(k.base64 && strstr(text, k.base64));
        sshkey_done(&k);
}

/* Refused, with a reason that contains `says`. */
static void check_bad(const char *text, const char *says) {
        const char *reason = NULL;
        sshkey k = {};
        int r = sshkey_parse(text, &k, &reason);

        CHECK_INT(r, -EINVAL);
        CHECK(reason != NULL);
        if (reason && !strstr(reason, says)) {
                fprintf(stderr, "%s:%d: reason \"%s\" does not say \"%s\"\n", __FILE__, __LINE__, reason, says);
                test_failures++;
        }
        if (r >= 0)
                sshkey_done(&k);
}

static char *b64(const void *blob, size_t n) {
        size_t size = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
        char *s = malloc(size);
        sodium_bin2base64(s, size, blob, n, sodium_base64_VARIANT_ORIGINAL);
        return s;
}

/* A key line "TYPE <base64 of blob>" for a blob built by hand. */
static char *line_of(const char *type, const uint8_t *blob, size_t n) {
        char *enc = b64(blob, n), *line;
        if (asprintf(&line, "%s %s", type, enc) < 0)
                abort();
        free(enc);
        return line;
}

static size_t put_string(uint8_t *p, const void *s, size_t n) {
        p[0] = (uint8_t) (n >> 24), p[1] = (uint8_t) (n >> 16), p[2] = (uint8_t) (n >> 8), p[3] = (uint8_t) n;
        memcpy(p + 4, s, n);
        return 4 + n;
}

static void test_parse(void) {
        char big[SSHKEY_LINE_MAX + 100], *line;
        uint8_t blob[4096], pk[32] = { 1 };
        size_t n;

        check_good(KEY_ED25519, SSHKEY_ED25519, 256, FP_ED25519, "fixture-ed25519");
        check_good(KEY_ECDSA256, SSHKEY_ECDSA_P256, 256, FP_ECDSA256, "fixture-ecdsab256");
        check_good(KEY_ECDSA384, SSHKEY_ECDSA_P384, 384, FP_ECDSA384, "fixture-ecdsab384");
        check_good(KEY_ECDSA521, SSHKEY_ECDSA_P521, 521, FP_ECDSA521, "fixture-ecdsab521");
        check_good(KEY_SK_ED25519, SSHKEY_SK_ED25519, 256, FP_SK_ED25519, "fixture-sked25519");
        check_good(KEY_SK_ECDSA, SSHKEY_SK_ECDSA_P256, 256, FP_SK_ECDSA, "fixture-skecdsa");
        check_good(KEY_RSA2048, SSHKEY_RSA, 2048, FP_RSA2048, "fixture-rsab2048");
        check_good(KEY_RSA4096, SSHKEY_RSA, 4096, FP_RSA4096, "fixture-rsab4096");

        /* White space around, a trailing newline, no comment, a comment
         * that is no valid name (kept out of the default name). */
        check_good("  \t" KEY_ED25519 "\n", SSHKEY_ED25519, 256, FP_ED25519, "fixture-ed25519");
        check_good("ssh-ed25519 " B64_ED25519, SSHKEY_ED25519, 256, FP_ED25519, "");
        check_good("ssh-ed25519 " B64_ED25519 "  my laptop key\r\n", SSHKEY_ED25519, 256, FP_ED25519, "");
        check_good("ssh-ed25519\t" B64_ED25519 "\talice@laptop", SSHKEY_ED25519, 256, FP_ED25519, "alice@laptop");

        /* Weak and refused types. */
        check_bad(KEY_RSA1024, "at least 2048 bits; this one has 1024");
        check_bad(KEY_DSA, "DSA (ssh-dss) keys are refused");
        check_bad("ssh-ed25519-cert-v01@openssh.com AAAA", "certificates are not accepted");
        check_bad("ssh-xmss@openssh.com AAAA", "key type 'ssh-xmss@openssh.com' is not accepted");
        check_bad("rsa-sha2-512 AAAA", "ssh-rsa");
        check_bad("from=\"10.0.0.1\" " KEY_ED25519, "options");
        check_bad("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
                  "private key");
        check_bad("---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----\n", "RFC 4716");
        check_bad("hello world", "not an SSH public key");
        check_bad("", "no key given");
        check_bad("   \n", "no key given");
        check_bad("ssh-ed25519", "no base64 data");
        check_bad(KEY_ED25519 "\n" KEY_RSA2048 "\n", "one key at a time");

        /* The type inside the blob must be the one declared. */
        check_bad("ssh-rsa " B64_ED25519, "declared as ssh-rsa but its data holds a 'ssh-ed25519' key");
        check_bad("ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBL8+RjEBF707SiQ0YBYcfFGizfGDEl+O5LwM10iuxaj9g09vuCcvZ8zgrhwIqK33t6cNKZvgrPSH0T4TbbhEA4U=",
                  "holds a 'ecdsa-sha2-nistp256' key");

        /* Bad base64: a character changed, padding missing, a line cut. */
        check_bad("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdAC0lhomhDQV3Ih//rFZUzxKSBTMuYAduIlJlmix3!", "base64");
        check_bad("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdAC0lhomhDQV3Ih//rFZUzxKSBTMuYAduIlJlmix3", "base64");
        check_bad("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCW20DHI27dNaaVlfbD7vKp5Ua", "base64");

        /* Overlong input. */
        memset(big, 'A', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        memcpy(big, "ssh-rsa ", 8);
        check_bad(big, "longer than 16384 bytes");

        /* Blobs made by hand: truncated, trailing bytes, wrong sizes. */
        n = put_string(blob, "ssh-ed25519", 11);
        n += put_string(blob + n, pk, 31);
        line = line_of("ssh-ed25519", blob, n);
        check_bad(line, "32 bytes");
        free(line);
        n = put_string(blob, "ssh-ed25519", 11);
        n += put_string(blob + n, pk, 32);
        blob[n++] = 0;
        line = line_of("ssh-ed25519", blob, n);
        check_bad(line, "bytes after the key");
        free(line);
        n = put_string(blob, "ssh-ed25519", 11);
        line = line_of("ssh-ed25519", blob, n);
        check_bad(line, "truncated");
        free(line);
        n = put_string(blob, "ecdsa-sha2-nistp256", 19);
        n += put_string(blob + n, "nistp384", 8);
        line = line_of("ecdsa-sha2-nistp256", blob, n);
        check_bad(line, "names another curve");
        free(line);
        {
                /* An RSA key with an even modulus, and one with e = 0. */
                uint8_t mod[257] = { 0 };
                mod[1] = 0xC0;
                n = put_string(blob, "ssh-rsa", 7);
                n += put_string(blob + n, "\x01\x00\x01", 3);
                n += put_string(blob + n, mod, sizeof(mod));
                line = line_of("ssh-rsa", blob, n);
                check_bad(line, "invalid modulus");
                free(line);
                mod[256] = 1;
                n = put_string(blob, "ssh-rsa", 7);
                n += put_string(blob + n, "", 0);
                n += put_string(blob + n, mod, sizeof(mod));
                line = line_of("ssh-rsa", blob, n);
                check_bad(line, "public exponent");
                free(line);
                /* A negative modulus (high bit set, no leading zero). */
                n = put_string(blob, "ssh-rsa", 7);
                n += put_string(blob + n, "\x01\x00\x01", 3);
                n += put_string(blob + n, mod + 1, sizeof(mod) - 1);
                line = line_of("ssh-rsa", blob, n);
                check_bad(line, "invalid modulus");
                free(line);
                /* The same, made positive: 2048 bits exactly. */
                n = put_string(blob, "ssh-rsa", 7);
                n += put_string(blob + n, "\x01\x00\x01", 3);
                n += put_string(blob + n, mod, sizeof(mod));
                line = line_of("ssh-rsa", blob, n);
                {
                        sshkey k;
                        CHECK_INT(sshkey_parse(line, &k, NULL), 0);
                        CHECK_INT(k.bits, 2048);
                        sshkey_done(&k);
                }
                free(line);
        }
        /* A FIDO key without its application. */
        n = put_string(blob, "sk-ssh-ed25519@openssh.com", 26);
        n += put_string(blob + n, pk, 32);
        line = line_of("sk-ssh-ed25519@openssh.com", blob, n);
        check_bad(line, "application");
        free(line);
}

static void test_names_and_types(void) {
        char buf[512];

        CHECK(sshkey_name_valid("laptop"));
        CHECK(sshkey_name_valid("alice@work.example-1_2"));
        CHECK(!sshkey_name_valid(""));
        CHECK(!sshkey_name_valid("my key"));
        CHECK(!sshkey_name_valid("a:b"));
        CHECK(!sshkey_name_valid("SHA256:x/y+z"));
        memset(buf, 'a', 65);
        buf[65] = 0;
        CHECK(!sshkey_name_valid(buf));
        buf[64] = 0;
        CHECK(sshkey_name_valid(buf));

        for (int i = 0; i < _SSHKEY_TYPE_MAX; i++)
                CHECK_INT(sshkey_type_from_string(sshkey_type_to_string((sshkey_type) i)), i);
        CHECK_INT(sshkey_type_from_string("ssh-dss"), -EINVAL);
        CHECK_STR(sshkey_types_to_text((1u << SSHKEY_ED25519) | (1u << SSHKEY_RSA), buf, sizeof(buf)),
                  "ssh-ed25519, ssh-rsa");
        CHECK(strstr(sshkey_types_to_text(0, buf, sizeof(buf)), "sk-ecdsa-sha2-nistp256@openssh.com"));
}

/* Fresh keys of every type ssh-keygen makes here, their fingerprints
 * compared with what ssh-keygen -l prints. */
static void test_against_ssh_keygen(void) {
        static const char *const kinds[][2] = {
                { "ed25519", "" }, { "ecdsa", "-b 256" }, { "ecdsa", "-b 384" }, { "ecdsa", "-b 521" },
                { "rsa", "-b 2048" }, { "rsa", "-b 3072" },
        };
        unsigned checked = 0;

        if (system("command -v ssh-keygen >/dev/null 2>&1") != 0) {
                printf("ssh-keygen not installed: only the embedded fixtures were checked\n");
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                char cmd[512], path[256], line[SSHKEY_LINE_MAX], fp[128] = "";
                sshkey k;
                FILE *f;

                snprintf(path, sizeof(path), "%s/gen%zu", dir, i);
                snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t %s %s -N '' -C gen%zu -f %s </dev/null", kinds[i][0],
                         kinds[i][1], i, path);
                CHECK_INT(system(cmd), 0);
                snprintf(cmd, sizeof(cmd), "ssh-keygen -lf %s.pub", path);
                f = popen(cmd, "r");
                CHECK(f && fscanf(f, "%*u %127s", fp) == 1);
                if (f)
                        pclose(f);
                snprintf(cmd, sizeof(cmd), "%s.pub", path);
                f = fopen(cmd, "r");
                CHECK(f && fgets(line, sizeof(line), f));
                if (f)
                        fclose(f);
                CHECK_INT(sshkey_parse(line, &k, NULL), 0);
                CHECK_STR(k.fingerprint, fp);
                sshkey_done(&k);
                checked++;
        }
        printf("%u fresh ssh-keygen keys: fingerprints as ssh-keygen -l prints them\n", checked);
}

/* ---- the store and the snapshot ---- */

typedef int (*op_fn)(op *o, void *userdata);

static int run_as(uint32_t uid, op_fn fn, void *userdata, nx_error *e) {
        op o;
        int r;

        if (op_begin(&acc, uid, true, e, &o) < 0)
                abort();
        o.now = 1000;
        r = fn(&o, userdata);
        if (r < 0) {
                op_abort(&o);
                return r;
        }
        r = op_commit(&o);
        op_done(&o);
        return r;
}

static int do_org_create(op *o, void *userdata) {
        return org_create(o, userdata);
}

typedef struct create_args {
        const char *name, *org, *role, *hash;
} create_args;
static int do_user_create(op *o, void *userdata) {
        create_args *a = userdata;
        char email[64], *roles[] = { (char *) a->role, NULL };
        user u;
        snprintf(email, sizeof(email), "%s@example.com", a->name);
        user_spec spec = { a->name, a->org, "First", "Last", email, "en", NULL, roles };
        return user_create(o, &spec, a->hash, &u);
}

typedef struct add_args {
        const char *user, *name, *key;
        sshkey_record added;
        char *storage;
} add_args;
static int do_add(op *o, void *userdata) {
        add_args *a = userdata;
        free(a->storage);
        a->storage = NULL;
        return sshkey_add(o, a->user, a->name, a->key, &a->added, &a->storage);
}

typedef struct remove_args {
        const char *user, *which;
} remove_args;
static int do_remove(op *o, void *userdata) {
        remove_args *a = userdata;
        return sshkey_remove(o, a->user, a->which, NULL);
}

static int do_deactivate(op *o, void *userdata) {
        return user_deactivate(o, userdata);
}

static int do_delete(op *o, void *userdata) {
        return user_delete(o, userdata);
}

typedef struct types_args {
        const char *org;
        uint32_t types;
} types_args;
static int do_types(op *o, void *userdata) {
        types_args *a = userdata;
        return org_set_ssh_key_types(o, a->org, a->types);
}

static int do_require_2fa(op *o, void *userdata) {
        return org_set_require_2fa(o, "acme", userdata != NULL);
}

static int do_totp_on(op *o, void *userdata) {
        return user_set_totp_enabled(o, userdata, true);
}

/* Whether the offline account check (pam_nexalix.so with the daemon down) lets user in. */
static int account_ok(const char *username) {
        char path[256];
        keys_snapshot *s;
        int r;
        snprintf(path, sizeof(path), "%s/%s", dir, KEYS_SNAPSHOT_FILE);
        if (keys_snapshot_open(path, &s) < 0)
                return -EIO;
        r = keys_snapshot_account_ok(s, username);
        keys_snapshot_close(s);
        return r;
}

static int add(const char *username, const char *name, const char *key, nx_error *e, add_args *ret) {
        add_args a = { .user = username, .name = name, .key = key };
        int r = run_as(0, do_add, &a, e);
        if (ret)
                *ret = a;
        else
                free(a.storage);
        return r;
}

static int count_names(const sshkey_record *k, void *userdata) {
        strcat(userdata, k->name);
        strcat(userdata, " ");
        return 0;
}

static const char *names_of(const char *username, char *buf) {
        store_txn *t;
        buf[0] = 0;
        store_begin(acc.store, false, &t);
        sshkey_foreach(t, username, count_names, buf);
        store_abort(t);
        return buf;
}

/* What nexalix-authorized-keys would print for user ("" for nothing). */
static char *published(const char *username) {
        char path[256], *lines = NULL;
        keys_snapshot *s;
        snprintf(path, sizeof(path), "%s/%s", dir, KEYS_SNAPSHOT_FILE);
        if (keys_snapshot_open(path, &s) < 0)
                return strdup("(no snapshot)");
        if (keys_snapshot_get(s, username, &lines, NULL) < 0)
                lines = strdup("");
        keys_snapshot_close(s);
        return lines;
}

static void check_published(const char *username, const char *want_substring, bool present) {
        char *got = published(username);
        bool has = want_substring ? strstr(got, want_substring) != NULL : got[0] != 0;
        if (has != present) {
                fprintf(stderr, "check failed: keys of %s %s '%s'; got \"%s\"\n", username,
                        present ? "should contain" : "should not contain", strempty(want_substring), got);
                test_failures++;
        }
        free(got);
}

static void test_store(void) {
        nx_error e = {};
        add_args a;
        char names[1024], path[256];
        uint64_t gen1 = 0, gen2 = 0, users = 0;
        struct stat st;

        CHECK_INT(run_as(0, do_org_create, "acme", &e), 0);
        CHECK_INT(run_as(0, do_org_create, "globex", &e), 0);
        CHECK_INT(run_as(0, do_user_create, &(create_args) { "alice", "acme", "member", "hash" }, &e), 0);
        CHECK_INT(run_as(0, do_user_create, &(create_args) { "bob", "acme", "member", "hash" }, &e), 0);
        CHECK_INT(run_as(0, do_user_create, &(create_args) { "ivan", "acme", "member", NULL }, &e), 0);
        CHECK_INT(run_as(0, do_user_create, &(create_args) { "gina", "globex", "member", "hash" }, &e), 0);
        /* A Nexalix user named like a local account: never published. */
        CHECK_INT(run_as(0, do_user_create, &(create_args) { "local", "acme", "member", "hash" }, &e), -EEXIST);

        /* Adding: the comment names it; --name wins; default names. */
        CHECK_INT(add("alice", NULL, KEY_ED25519, &e, &a), 0);
        CHECK_STR(a.added.name, "fixture-ed25519");
        CHECK_STR(a.added.fingerprint, FP_ED25519);
        CHECK_STR(a.added.line, "ssh-ed25519 " B64_ED25519 " fixture-ed25519");
        free(a.storage);
        CHECK_INT(add("alice", "work", KEY_RSA2048, &e, &a), 0);
        CHECK_STR(a.added.name, "work");
        CHECK_INT(a.added.bits, 2048);
        free(a.storage);
        e = (nx_error) {};
        CHECK_INT(add("alice", "other", KEY_ED25519, &e, NULL), -EEXIST);
        CHECK(strstr(e.message, "already added to 'alice' as 'fixture-ed25519'"));
        e = (nx_error) {};
        CHECK_INT(add("alice", "work", KEY_ECDSA256, &e, NULL), -EEXIST);
        CHECK(strstr(e.message, "already has a key named 'work'"));
        e = (nx_error) {};
        CHECK_INT(add("alice", "bad name", KEY_ECDSA256, &e, NULL), -EINVAL);
        e = (nx_error) {};
        CHECK_INT(add("alice", NULL, KEY_RSA1024, &e, NULL), -EINVAL);
        CHECK(strstr(e.message, "at least 2048 bits"));
        e = (nx_error) {};
        CHECK_INT(add("nobody", NULL, KEY_ECDSA256, &e, NULL), -ENOENT);
        /* A comment that is no valid name: type and fingerprint. */
        CHECK_INT(add("bob", NULL, "ssh-ed25519 " B64_ED25519 " my laptop", &e, &a), 0);
        CHECK_STR(a.added.name, "ed25519-SrSnZ7tO");
        free(a.storage);
        CHECK_STR(names_of("alice", names), "fixture-ed25519 work ");
        CHECK_INT(add("ivan", NULL, KEY_ECDSA384, &e, NULL), 0);
        CHECK_INT(add("gina", NULL, KEY_ECDSA521, &e, NULL), 0);

        /* The snapshot: root only without a group, 0640 with one. */
        CHECK_INT(keys_publish_whole(&acc, dir, (gid_t) -1, &gen1, &users), 0);
        snprintf(path, sizeof(path), "%s/%s", dir, KEYS_SNAPSHOT_FILE);
        CHECK_INT(stat(path, &st), 0);
        CHECK_INT(st.st_mode & 07777, 0600);
        CHECK_INT(users, 3);            /* alice, bob, gina; ivan is invited */
        check_published("alice", "ssh-ed25519 " B64_ED25519 " fixture-ed25519\n", true);
        check_published("alice", " work\n", true);
        check_published("bob", " ed25519-SrSnZ7tO\n", true);
        check_published("ivan", NULL, false);
        check_published("nobody", NULL, false);
        check_published("Not-A-Name", NULL, false);
        CHECK_INT(keys_publish_whole(&acc, dir, getgid(), &gen2, NULL), 0);
        CHECK_INT(gen2, gen1 + 1);
        CHECK_INT(stat(path, &st), 0);
        CHECK_INT(st.st_mode & 07777, 0640);
        CHECK_INT(st.st_gid, getgid());
        snprintf(path, sizeof(path), "%s/%s", dir, KEYS_SNAPSHOT_GENERATION_FILE);
        CHECK_INT(stat(path, &st), 0);
        CHECK_INT(st.st_size, 16);

        /* The offline account check: users with keys, not those who must
         * still set up 2FA. */
        CHECK_INT(account_ok("alice"), 0);
        CHECK_INT(account_ok("ivan"), -ENOENT);
        CHECK_INT(account_ok("nobody"), -ENOENT);
        CHECK_INT(run_as(0, do_require_2fa, "on", &e), 0);
        CHECK_INT(keys_publish_whole(&acc, dir, (gid_t) -1, NULL, NULL), 0);
        CHECK_INT(account_ok("alice"), -ENOENT);
        CHECK_INT(account_ok("gina"), 0);
        check_published("alice", " fixture-ed25519\n", true);
        CHECK_INT(run_as(0, do_totp_on, "alice", &e), 0);
        CHECK_INT(keys_publish_whole(&acc, dir, (gid_t) -1, NULL, NULL), 0);
        CHECK_INT(account_ok("alice"), 0);
        CHECK_INT(account_ok("bob"), -ENOENT);
        CHECK_INT(run_as(0, do_require_2fa, NULL, &e), 0);
        CHECK_INT(keys_publish_whole(&acc, dir, (gid_t) -1, NULL, NULL), 0);
        CHECK_INT(account_ok("bob"), 0);

        /* An organisation that accepts Ed25519 only: alice's RSA key stays
         * stored but leaves the snapshot; adding RSA is refused. */
        CHECK_INT(run_as(0, do_types, &(types_args) { "acme", 1u << SSHKEY_ED25519 }, &e), 0);
        e = (nx_error) {};
        CHECK_INT(add("bob", NULL, KEY_RSA4096, &e, NULL), -EPERM);
        CHECK(strstr(e.message, "accepts only these SSH key types: ssh-ed25519; this is a ssh-rsa key"));
        CHECK_INT(keys_publish_whole(&acc, dir, (gid_t) -1, NULL, NULL), 0);
        check_published("alice", " fixture-ed25519\n", true);
        check_published("alice", " work\n", false);
        CHECK_STR(names_of("alice", names), "fixture-ed25519 work ");
        CHECK_INT(run_as(0, do_types, &(types_args) { "acme", 0 }, &e), 0);

        /* Deactivated: out of the snapshot, keys kept. Deleted: keys gone. */
        CHECK_INT(run_as(0, do_deactivate, "bob", &e), 0);
        CHECK_INT(keys_publish_whole(&acc, dir, (gid_t) -1, NULL, &users), 0);
        check_published("bob", NULL, false);
        CHECK_STR(names_of("bob", names), "ed25519-SrSnZ7tO ");
        CHECK_INT(run_as(0, do_delete, "bob", &e), 0);
        CHECK_STR(names_of("bob", names), "");

        /* Removing, by name and by fingerprint. */
        e = (nx_error) {};
        CHECK_INT(run_as(0, do_remove, &(remove_args) { "alice", "nope" }, &e), -ENOENT);
        CHECK_INT(run_as(0, do_remove, &(remove_args) { "alice", "work" }, &e), 0);
        CHECK_INT(run_as(0, do_remove, &(remove_args) { "alice", FP_ED25519 }, &e), 0);
        CHECK_STR(names_of("alice", names), "");
        CHECK_INT(keys_publish_whole(&acc, dir, (gid_t) -1, NULL, &users), 0);
        check_published("alice", NULL, false);
        CHECK_INT(users, 1);            /* gina */

        /* At most SSHKEY_PER_USER_MAX keys. */
        for (unsigned i = 0; i <= SSHKEY_PER_USER_MAX; i++) {
                uint8_t blob[64], pk[32] = { (uint8_t) i, 7 };
                size_t n = put_string(blob, "ssh-ed25519", 11);
                char *line;
                n += put_string(blob + n, pk, 32);
                line = line_of("ssh-ed25519", blob, n);
                e = (nx_error) {};
                CHECK_INT(add("alice", NULL, line, &e, NULL), i < SSHKEY_PER_USER_MAX ? 0 : -EBUSY);
                free(line);
        }
        CHECK(strstr(e.message, "already has 32 SSH keys"));
}

static void test_damaged_snapshot(void) {
        char path[256], copy[256], cmd[600], *lines = NULL;
        keys_snapshot *s = NULL;
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, KEYS_SNAPSHOT_FILE);
        snprintf(copy, sizeof(copy), "%s/truncated.mdb", dir);
        CHECK_INT(stat(path, &st), 0);
        snprintf(cmd, sizeof(cmd), "head -c %lld %s > %s", (long long) st.st_size / 2, path, copy);
        CHECK_INT(system(cmd), 0);
        CHECK_INT(keys_snapshot_open(copy, &s), -EBADMSG);
        CHECK_INT(keys_snapshot_open("/nonexistent/keys.mdb", &s), -ENOENT);
        /* An empty file; an NSS snapshot (another format). */
        snprintf(cmd, sizeof(cmd), "printf '' > %s", copy);
        CHECK_INT(system(cmd), 0);
        CHECK_INT(keys_snapshot_open(copy, &s), -EBADMSG);
        {
                snapshot_writer *w;
                char nss[300];
                CHECK_INT(snapshot_writer_new(dir, 1, 1, &w), 0);
                CHECK_INT(snapshot_writer_add_user(w, "gina", 200100, 200100, "G", "/home/gina", "/bin/sh"), 0);
                CHECK_INT(snapshot_writer_publish(w, NULL), 0);
                snprintf(nss, sizeof(nss), "%s/%s", dir, SNAPSHOT_FILE);
                CHECK_INT(keys_snapshot_open(nss, &s), -EPROTONOSUPPORT);
        }
        CHECK_INT(keys_snapshot_open(path, &s), 0);
        CHECK_INT(keys_snapshot_get(s, "gina", &lines, NULL), 0);
        free(lines);
        keys_snapshot_close(s);
        /* A leftover of a crashed publication is removed. */
        snprintf(cmd, sizeof(cmd), "touch %s/" KEYS_TMP_PREFIX "abcdef", dir);
        CHECK_INT(system(cmd), 0);
        CHECK_INT(keys_writer_remove_stale(dir), 1);
}

int main(void) {
        char path[256], passwd[256], group[256];
        local_accounts *local;
        FILE *f;
        int r;

        if (sodium_init() < 0 || !mkdtemp(dir))
                return EXIT_FAILURE;
        test_parse();
        test_names_and_types();
        test_against_ssh_keygen();

        snprintf(passwd, sizeof(passwd), "%s/passwd", dir);
        f = fopen(passwd, "w");
        fprintf(f, "root:x:0:0::/root:/bin/sh\nlocal:x:1005:1005::/:/bin/false\n");
        fclose(f);
        snprintf(group, sizeof(group), "%s/group", dir);
        f = fopen(group, "w");
        fprintf(f, "root:x:0:\n");
        fclose(f);
        cfg.store_dir = strdup(dir);
        cfg.runtime_dir = strdup(dir);
        cfg.home_template = strdup("/home/{user}");
        cfg.shell = strdup("/bin/sh");
        cfg.uid_min = 200000;
        cfg.uid_max = 299999;
        /* Inviting issues a one-time link and queues its mail. */
        cfg.link_url = strdup("https://id.test.invalid/redeem?token={token}");
        cfg.mail_from = strdup("nexalix@test.invalid");
        acc.config = &cfg;
        snprintf(path, sizeof(path), "%s/store", dir);
        if (store_open(path, &acc.store) < 0 ||
            local_accounts_new(&(local_accounts_paths) { passwd, group, NULL, NULL }, &local) < 0)
                return EXIT_FAILURE;
        acc.local = local;
        test_store();
        test_damaged_snapshot();

        store_close(acc.store);
        local_accounts_free(local);
        config_done(&cfg);
        snprintf(path, sizeof(path), "rm -rf %s", dir);
        r = getenv("NX_KEEP") ? 0 : system(path);
        (void) r;
        return test_result("test-sshkey");
}
