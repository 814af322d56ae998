/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Users' SSH public keys in the store: add, list, remove (sshkey.h). Who
 * may act on whose keys is the front end's check (the account itself, or
 * user_load_for() with PERM_MANAGE_USERS); what a key must be is checked
 * here, in the transaction that stores it. */
#include "audit.h"
#include "org.h"
#include "record.h"
#include "sshkey.h"
#include "user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSHKEY_RECORD_VERSION 1

/* "user\0SHA256:…" */
static size_t key_of(char buf[static USERNAME_MAX + SSHKEY_FINGERPRINT_MAX + 2], const char *username,
                     const char *fingerprint) {
        size_t lu = strlen(username), lf = strlen(fingerprint);

        memcpy(buf, username, lu);
        buf[lu] = 0;
        memcpy(buf + lu + 1, fingerprint, lf);
        return lu + 1 + lf;
}

int sshkey_record_decode(const void *key, size_t key_size, const void *value, size_t value_size,
                         sshkey_record *ret) {
        record_reader rd = record_reader_init(value, value_size);
        const char *nul = memchr(key, 0, key_size), *name;
        sshkey_record k = {};
        size_t lu, lf;
        uint8_t type;

        if (!nul)
                return -EBADMSG;
        lu = (size_t) (nul - (const char *) key);
        lf = key_size - lu - 1;
        if (lu == 0 || lu > USERNAME_MAX || lf == 0 || lf > SSHKEY_FINGERPRINT_MAX)
                return -EBADMSG;
        memcpy(k.user, key, lu);
        memcpy(k.fingerprint, nul + 1, lf);
        if (record_get_u8(&rd) != SSHKEY_RECORD_VERSION)
                return -EBADMSG;
        type = record_get_u8(&rd);
        k.bits = record_get_u32(&rd);
        k.created_at = record_get_u64(&rd);
        name = record_get_string(&rd);
        k.line = record_get_string(&rd);
        if (rd.error)
                return rd.error;
        if (type >= _SSHKEY_TYPE_MAX || strlen(name) > SSHKEY_NAME_MAX)
                return -EBADMSG;
        k.type = (sshkey_type) type;
        /* (memcpy, not snprintf: the keys publication decodes every key.) */
        memcpy(k.name, name, strlen(name) + 1);
        *ret = k;
        return 0;
}

/* ---- walking one user's keys ---- */

typedef struct key_list {
        sshkey_record *v;
        size_t n, allocated;
} key_list;

static int collect(const void *key, size_t key_size, const void *value, size_t value_size, void *userdata) {
        key_list *l = userdata;
        int r;

        if (l->n >= l->allocated) {
                size_t n = l->allocated ? 2 * l->allocated : 8;
                sshkey_record *v = realloc(l->v, n * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                l->v = v;
                l->allocated = n;
        }
        r = sshkey_record_decode(key, key_size, value, value_size, &l->v[l->n]);
        if (r < 0)
                return r;
        l->n++;
        return 0;
}

/* The user's keys; lines point into the transaction's map. */
static int list_keys(store_txn *t, const char *username, key_list *ret) {
        key_list l = {};
        int r = store_foreach(t, TABLE_SSH_KEYS, username, strlen(username) + 1, false, collect, &l);

        if (r < 0) {
                free(l.v);
                return r;
        }
        *ret = l;
        return 0;
}

static int cmp_name(const void *a, const void *b) {
        return strcmp(((const sshkey_record *) a)->name, ((const sshkey_record *) b)->name);
}

int sshkey_foreach(store_txn *t, const char *username, int (*fn)(const sshkey_record *k, void *userdata),
                   void *userdata) {
        key_list l;
        int r;

        r = list_keys(t, username, &l);
        if (r < 0)
                return r;
        if (l.n > 1)
                qsort(l.v, l.n, sizeof(*l.v), cmp_name);
        for (size_t i = 0; r >= 0 && i < l.n; i++)
                r = fn(&l.v[i], userdata);
        free(l.v);
        return r < 0 ? r : 0;
}

static int stop_at_first(const void *key, size_t key_size, const void *value, size_t value_size, void *userdata) {
        return 1;
}

int sshkey_user_has_keys(store_txn *t, const char *username) {
        int r = store_foreach(t, TABLE_SSH_KEYS, username, strlen(username) + 1, false, stop_at_first, NULL);
        return r < 0 ? r : r > 0;
}

static const sshkey_record *find_name(const key_list *l, const char *name) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->v[i].name, name) == 0)
                        return &l->v[i];
        return NULL;
}

static const sshkey_record *find_fingerprint(const key_list *l, const char *fingerprint) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->v[i].fingerprint, fingerprint) == 0)
                        return &l->v[i];
        return NULL;
}

/* ---- adding ---- */

/* A name for a key given without one: its comment when that is a valid
 * name, else the type and the start of the fingerprint ("ed25519-AbC9x_y2");
 * "-2", "-3"… when the user already has it. */
static int default_name(const sshkey *k, const key_list *l, char ret[static SSHKEY_NAME_MAX + 1]) {
        char base[SSHKEY_NAME_MAX + 1];

        if (k->comment[0])
                snprintf(base, sizeof(base), "%s", k->comment);
        else {
                char fp[9];
                /* Base64's '+' and '/' are no name characters. */
                for (size_t i = 0; i < 8; i++) {
                        char c = k->fingerprint[7 + i];
                        fp[i] = c == '+' ? '-' : c == '/' ? '_' : c;
                }
                fp[8] = 0;
                snprintf(base, sizeof(base), "%s-%s", sshkey_type_label(k->type), fp);
        }
        snprintf(ret, SSHKEY_NAME_MAX + 1, "%s", base);
        for (unsigned i = 2; find_name(l, ret); i++) {
                char suffix[16];
                size_t ls = (size_t) snprintf(suffix, sizeof(suffix), "-%u", i);
                size_t lb = strlen(base);
                if (lb + ls > SSHKEY_NAME_MAX)
                        lb = SSHKEY_NAME_MAX - ls;
                snprintf(ret, SSHKEY_NAME_MAX + 1, "%.*s%s", (int) lb, base, suffix);
        }
        return 0;
}

int sshkey_add(op *o, const char *username, const char *name, const char *text, sshkey_record *ret,
               char **ret_storage) {
        _cleanup_(record_writer_done) record_writer w = {};
        _cleanup_(user_done) user u = {};
        _cleanup_(sshkey_done) sshkey k = {};
        _cleanup_free_ char *line = NULL;
        char key[USERNAME_MAX + SSHKEY_FINGERPRINT_MAX + 2], chosen[SSHKEY_NAME_MAX + 1];
        const sshkey_record *same;
        const char *reason = NULL;
        organisation org;
        key_list l = {};
        size_t key_size;
        int r;

        r = user_load(o->txn, username, &u);
        if (r == -ENOENT)
                return nx_error_set(o->error, -ENOENT, "no user '%s'", username);
        if (r < 0)
                return r;
        if (!isempty(name) && !sshkey_name_valid(name))
                return nx_error_set(o->error, -EINVAL,
                                    "a key name is 1 to %u of the characters A-Z a-z 0-9 . _ @ -",
                                    SSHKEY_NAME_MAX);
        r = sshkey_parse(text, &k, &reason);
        if (r == -EINVAL)
                return nx_error_set(o->error, -EINVAL, "%s", reason);
        if (r < 0)
                return r;

        r = org_load(o->txn, u.org, &org);
        if (r < 0)
                return r;
        if (org.ssh_key_types && !(org.ssh_key_types & (1u << k.type))) {
                char list[256];
                return nx_error_set(o->error, -EPERM,
                                    "organisation '%s' accepts only these SSH key types: %s; this is a %s key",
                                    u.org, sshkey_types_to_text(org.ssh_key_types, list, sizeof(list)),
                                    sshkey_type_to_string(k.type));
        }

        r = list_keys(o->txn, u.username, &l);
        if (r < 0)
                return r;
        same = find_fingerprint(&l, k.fingerprint);
        if (same)
                r = nx_error_set(o->error, -EEXIST, "this key (%s) is already added to '%s' as '%s'",
                                 k.fingerprint, u.username, same->name);
        else if (!isempty(name) && find_name(&l, name))
                r = nx_error_set(o->error, -EEXIST, "'%s' already has a key named '%s' — choose another name",
                                 u.username, name);
        else if (l.n >= SSHKEY_PER_USER_MAX)
                r = nx_error_set(o->error, -EBUSY, "'%s' already has %u SSH keys, the most one may have — remove one first",
                                 u.username, SSHKEY_PER_USER_MAX);
        else if (isempty(name))
                r = default_name(&k, &l, chosen);
        else
                snprintf(chosen, sizeof(chosen), "%s", name);
        free(l.v);
        if (r < 0)
                return r;

        /* What sshd reads: the type, the key, and the name as its comment. */
        if (asprintf(&line, "%s %s %s", sshkey_type_to_string(k.type), k.base64, chosen) < 0) {
                line = NULL;
                return -ENOMEM;
        }
        record_put_u8(&w, SSHKEY_RECORD_VERSION);
        record_put_u8(&w, (uint8_t) k.type);
        record_put_u32(&w, k.bits);
        record_put_u64(&w, o->now);
        record_put_string(&w, chosen);
        record_put_string(&w, line);
        r = record_writer_error(&w);
        if (r < 0)
                return r;
        key_size = key_of(key, u.username, k.fingerprint);
        r = store_put(o->txn, TABLE_SSH_KEYS, key, key_size, w.data, w.size, true);
        if (r < 0)
                return r;
        r = audit_append(o, "user.ssh-key.add", u.org, u.username, "key '%s' added: %s %u bits %s",
                         chosen, sshkey_type_to_string(k.type), k.bits, k.fingerprint);
        if (r < 0)
                return r;
        if (ret) {
                *ret = (sshkey_record) { .type = k.type, .bits = k.bits, .created_at = o->now };
                snprintf(ret->user, sizeof(ret->user), "%s", u.username);
                snprintf(ret->name, sizeof(ret->name), "%s", chosen);
                snprintf(ret->fingerprint, sizeof(ret->fingerprint), "%s", k.fingerprint);
                ret->line = ret_storage ? line : NULL;
                if (ret_storage)
                        *ret_storage = TAKE_PTR(line);
        }
        return 0;
}

/* ---- removing ---- */

int sshkey_remove(op *o, const char *username, const char *name_or_fingerprint, sshkey_record *ret) {
        char key[USERNAME_MAX + SSHKEY_FINGERPRINT_MAX + 2];
        const sshkey_record *k;
        sshkey_record found;
        key_list l = {};
        int r;

        if (isempty(name_or_fingerprint))
                return nx_error_set(o->error, -EINVAL, "name the key to remove, or give its fingerprint");
        r = list_keys(o->txn, username, &l);
        if (r < 0)
                return r;
        k = strncmp(name_or_fingerprint, "SHA256:", 7) == 0 ? find_fingerprint(&l, name_or_fingerprint)
                                                             : find_name(&l, name_or_fingerprint);
        if (k)
                found = *k;
        free(l.v);
        if (!k)
                return nx_error_set(o->error, -ENOENT, "'%s' has no SSH key '%s'", username, name_or_fingerprint);

        /* found.line points into the map, which the deletion may change. */
        found.line = NULL;
        r = store_del(o->txn, TABLE_SSH_KEYS, key, key_of(key, found.user, found.fingerprint));
        if (r < 0)
                return r;
        {
                _cleanup_(user_done) user u = {};
                r = user_load(o->txn, username, &u);
                if (r < 0)
                        return r;
                r = audit_append(o, "user.ssh-key.remove", u.org, u.username, "key '%s' removed: %s %s",
                                 found.name, sshkey_type_to_string(found.type), found.fingerprint);
        }
        if (r < 0)
                return r;
        if (ret)
                *ret = found;
        return 0;
}
