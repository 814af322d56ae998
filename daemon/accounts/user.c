/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "array.h"
#include "audit.h"
#include "backoff.h"
#include "linked-record.h"
#include "local-accounts.h"
#include "onetime.h"
#include "org.h"
#include "outbox.h"
#include "record.h"
#include "role.h"
#include "totp.h"
#include "user.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define USER_RECORD_VERSION 1
#define USER_FLAG_EMAIL_VERIFIED 0x01
#define USER_FLAG_TOTP_ENABLED 0x02

static const char *const state_names[_USER_STATE_MAX] = {
        [USER_INVITED] = "invited",
        [USER_ACTIVE] = "active",
        [USER_DEACTIVATED] = "deactivated",
};

const char *user_state_to_string(user_state s) {
        return s < _USER_STATE_MAX ? state_names[s] : "unknown";
}

int user_state_from_string(const char *s) {
        for (int i = 0; i < _USER_STATE_MAX; i++)
                if (s && strcmp(s, state_names[i]) == 0)
                        return i;
        return -EINVAL;
}

void user_done(user *u) {
        free(u->storage);
        *u = (user) {};
}

static int user_decode(const void *data, size_t size, user *ret) {
        record_reader rd = record_reader_init(data, size);
        user u = {};
        uint8_t flags, n_roles;

        if (record_get_u8(&rd) != USER_RECORD_VERSION)
                return -EBADMSG;
        u.uid = record_get_u32(&rd);
        u.state = record_get_u8(&rd);
        flags = record_get_u8(&rd);
        u.email_verified = flags & USER_FLAG_EMAIL_VERIFIED;
        u.totp_enabled = flags & USER_FLAG_TOTP_ENABLED;
        u.created_at = record_get_u64(&rd);
        u.updated_at = record_get_u64(&rd);
        u.username = record_get_string(&rd);
        u.org = record_get_string(&rd);
        u.department = record_get_string(&rd);
        u.first_name = record_get_string(&rd);
        u.last_name = record_get_string(&rd);
        u.email = record_get_string(&rd);
        u.language = record_get_string(&rd);
        n_roles = record_get_u8(&rd);
        if (n_roles > USER_ROLES_MAX || u.state >= _USER_STATE_MAX)
                return -EBADMSG;
        for (size_t i = 0; i < n_roles; i++)
                u.roles[i] = record_get_string(&rd);
        u.password_hash = record_get_string(&rd);
        if (rd.error)
                return rd.error;
        *ret = u;
        return 0;
}

/* Decodes a private copy of the record, so the user outlives later writes. */
static int user_decode_copy(const void *data, size_t size, user *ret) {
        void *copy = malloc(size ? size : 1);
        int r;

        if (!copy)
                return -ENOMEM;
        memcpy(copy, data, size);
        r = user_decode(copy, size, ret);
        if (r < 0) {
                free(copy);
                return r;
        }
        ret->storage = copy;
        return 0;
}

int user_load(store_txn *t, const char *username, user *ret) {
        const void *v;
        size_t n;
        int r;

        if (!username || validate_username(username, NULL) < 0)
                return -ENOENT;
        r = store_get(t, TABLE_USERS, username, strlen(username), &v, &n);
        if (r < 0)
                return r;
        return user_decode_copy(v, n, ret);
}

int user_load_by_uid(store_txn *t, uint32_t uid, user *ret) {
        const void *name;
        size_t n;
        uint8_t key[4];
        char username[USERNAME_MAX + 1];
        int r;

        be32_put(key, uid);
        r = store_get(t, TABLE_UIDS, key, sizeof(key), &name, &n);
        if (r < 0)
                return r;
        if (n > USERNAME_MAX)
                return -EBADMSG;
        memcpy(username, name, n);
        username[n] = 0;
        return user_load(t, username, ret);
}

/* Two entries per user in the listing index: "org\0username" (an
 * organisation's users) and "\0username" (everyone, for the superadmin),
 * each -> u8 state, department, org: what a listing filters on, without
 * decoding every user. */
static size_t index_key(char buf[static ORG_NAME_MAX + USERNAME_MAX + 2], const char *org, const char *username) {
        size_t lo = strlen(org), lu = strlen(username);

        memcpy(buf, org, lo);
        buf[lo] = 0;
        memcpy(buf + lo + 1, username, lu);
        return lo + 1 + lu;
}

int user_index(op *o, const user *u) {
        _cleanup_(record_writer_done) record_writer w = {};
        char key[ORG_NAME_MAX + USERNAME_MAX + 2];
        int r;

        record_put_u8(&w, (uint8_t) u->state);
        record_put_string(&w, u->department);
        record_put_string(&w, u->org);
        r = record_writer_error(&w);
        if (r < 0)
                return r;
        r = store_put(o->txn, TABLE_USER_INDEX, key, index_key(key, u->org, u->username), w.data, w.size, false);
        if (r < 0)
                return r;
        return store_put(o->txn, TABLE_USER_INDEX, key, index_key(key, "", u->username), w.data, w.size, false);
}

static int user_unindex(op *o, const user *u) {
        char key[ORG_NAME_MAX + USERNAME_MAX + 2];
        int r = store_del(o->txn, TABLE_USER_INDEX, key, index_key(key, u->org, u->username));

        if (r >= 0 || r == -ENOENT)
                r = store_del(o->txn, TABLE_USER_INDEX, key, index_key(key, "", u->username));
        return r == -ENOENT ? 0 : r;
}

static int user_save(op *o, user *u) {
        _cleanup_(record_writer_done) record_writer w = {};
        size_t n_roles = 0;
        int r;

        u->updated_at = o->now;
        while (u->roles[n_roles])
                n_roles++;

        record_put_u8(&w, USER_RECORD_VERSION);
        record_put_u32(&w, u->uid);
        record_put_u8(&w, (uint8_t) u->state);
        record_put_u8(&w, (u->email_verified ? USER_FLAG_EMAIL_VERIFIED : 0) |
                              (u->totp_enabled ? USER_FLAG_TOTP_ENABLED : 0));
        record_put_u64(&w, u->created_at);
        record_put_u64(&w, u->updated_at);
        record_put_string(&w, u->username);
        record_put_string(&w, u->org);
        record_put_string(&w, u->department);
        record_put_string(&w, u->first_name);
        record_put_string(&w, u->last_name);
        record_put_string(&w, u->email);
        record_put_string(&w, u->language);
        record_put_u8(&w, (uint8_t) n_roles);
        for (size_t i = 0; i < n_roles; i++)
                record_put_string(&w, u->roles[i]);
        record_put_string(&w, u->password_hash);
        r = record_writer_error(&w);
        if (r < 0)
                return r;
        r = store_put(o->txn, TABLE_USERS, u->username, strlen(u->username), w.data, w.size, false);
        if (r < 0)
                return r;
        return user_index(o, u);
}

typedef struct user_walk {
        int (*fn)(const user *u, void *userdata);
        void *userdata;
} user_walk;

static int user_visit(const void *key, size_t key_size, const void *value, size_t value_size,
                      void *userdata) {
        user_walk *walk = userdata;
        user u;
        int r = user_decode(value, value_size, &u);
        return r < 0 ? r : walk->fn(&u, walk->userdata);
}

int user_foreach(store_txn *t, int (*fn)(const user *u, void *userdata), void *userdata) {
        user_walk walk = { fn, userdata };
        return store_foreach(t, TABLE_USERS, NULL, 0, false, user_visit, &walk);
}

int user_load_for(op *o, const char *username, unsigned permission, user *ret) {
        user u;
        int r;

        r = user_load(o->txn, username, &u);
        if (r == -ENOENT || (r == 0 && !caller_may(&o->caller, permission, u.org))) {
                if (r == 0)
                        user_done(&u);
                return nx_error_set(o->error, -ENOENT, "no user '%s'", username);
        }
        if (r < 0)
                return r;
        *ret = u;
        return 0;
}

/* ---- checks shared by create and update ---- */

static int check_field(op *o, int (*validate)(const char *, const char **), const char *value) {
        const char *reason;
        if (validate(value, &reason) < 0)
                return nx_error_set(o->error, -EINVAL, "%s", reason);
        return 0;
}

static int check_department(op *o, const char *org, const char *dept) {
        int r;

        if (isempty(dept))
                return 0;
        r = dept_load(o->txn, org, dept, &(department) {});
        if (r == -ENOENT)
                return nx_error_set(o->error, -EINVAL, "department '%s' does not exist in organisation '%s'",
                                    dept, org);
        return r;
}

/* email must already be normalised. */
static int check_email_free(op *o, const char *email, const char *owner) {
        const void *v;
        size_t n;
        int r = store_get(o->txn, TABLE_EMAILS, email, strlen(email), &v, &n);

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (owner && n == strlen(owner) && memcmp(v, owner, n) == 0)
                return 0;
        return nx_error_set(o->error, -EEXIST, "email %s is already used by another account", email);
}

static int check_roles(op *o, char *const *roles) {
        size_t n = strv_length(roles);

        if (n > USER_ROLES_MAX)
                return nx_error_set(o->error, -EINVAL, "a user can have at most %d roles", USER_ROLES_MAX);
        for (size_t i = 0; i < n; i++) {
                if (role_index(roles[i]) < 0)
                        return nx_error_set(o->error, -EINVAL,
                                            "unknown role '%s' — see 'nexalixctl role list'", roles[i]);
                for (size_t j = 0; j < i; j++)
                        if (strcmp(roles[i], roles[j]) == 0)
                                return nx_error_set(o->error, -EINVAL, "role '%s' is given twice", roles[i]);
        }
        return 0;
}

int user_check_new(op *o, const user_spec *s) {
        char email[EMAIL_MAX + 1];
        int r;

        if (isempty(s->org))
                return nx_error_set(o->error, -EINVAL, "an organisation is required");
        r = org_load(o->txn, s->org, &(organisation) {});
        if (r == -ENOENT || (r == 0 && !caller_may(&o->caller, PERM_MANAGE_USERS, s->org)))
                return nx_error_set(o->error, -ENOENT, "no organisation '%s'", s->org);
        if (r < 0)
                return r;

        if ((r = check_field(o, validate_username, s->username)) < 0 ||
            (r = check_field(o, validate_person_name, s->first_name)) < 0 ||
            (r = check_field(o, validate_person_name, s->last_name)) < 0 ||
            (r = check_field(o, validate_email, s->email)) < 0 ||
            (r = check_field(o, validate_language, s->language)) < 0 ||
            (r = check_department(o, s->org, s->department)) < 0 ||
            (r = check_roles(o, s->roles)) < 0)
                return r;

        r = name_check_free(o, s->username, "username");
        if (r < 0)
                return r;
        snprintf(email, sizeof(email), "%s", s->email);
        email_normalize(email);
        return check_email_free(o, email, NULL);
}

int user_create(op *o, const user_spec *s, const char *password_hash, user *ret) {
        char email_key[EMAIL_MAX + 1];
        uint8_t uid_key[4];
        user u = {};
        size_t n_roles = strv_length(s->roles);
        int r;

        r = user_check_new(o, s);
        if (r < 0)
                return r;

        r = id_allocate(o, &u.uid);
        if (r < 0)
                return r;
        u.username = s->username;
        u.state = password_hash ? USER_ACTIVE : USER_INVITED;
        u.created_at = o->now;
        u.org = s->org;
        u.department = strempty(s->department);
        u.first_name = s->first_name;
        u.last_name = s->last_name;
        u.email = s->email;
        u.language = s->language;
        for (size_t i = 0; i < n_roles; i++)
                u.roles[i] = s->roles[i];
        u.password_hash = strempty(password_hash);

        r = user_save(o, &u);
        if (r < 0)
                return r;
        r = org_count_users_adjust(o, u.org, u.department, +1);
        if (r < 0)
                return r;
        be32_put(uid_key, u.uid);
        r = store_put(o->txn, TABLE_UIDS, uid_key, sizeof(uid_key), u.username, strlen(u.username), true);
        if (r < 0)
                return r;
        snprintf(email_key, sizeof(email_key), "%s", u.email);
        email_normalize(email_key);
        r = store_put(o->txn, TABLE_EMAILS, email_key, strlen(email_key), u.username, strlen(u.username), true);
        if (r < 0)
                return r;

        r = op_user_changed(o, u.username);
        if (r < 0)
                return r;
        r = audit_append(o, password_hash ? "user.create" : "user.invite", u.org, u.username,
                         "uid %u, %s", u.uid, password_hash ? "active with a password" : "invited");
        if (r < 0)
                return r;
        /* The invitation goes to the address it will verify. */
        if (!password_hash) {
                r = onetime_issue(o, &u, LINK_INVITE, u.email);
                if (r < 0)
                        return r;
        }
        if (ret)
                *ret = u;
        return 0;
}

int user_switch_email(op *o, user *u, const char *email) {
        char old_key[EMAIL_MAX + 1], new_key[EMAIL_MAX + 1];
        int r;

        snprintf(new_key, sizeof(new_key), "%s", email);
        email_normalize(new_key);
        if ((r = check_email_free(o, new_key, u->username)) < 0)
                return r;
        snprintf(old_key, sizeof(old_key), "%s", u->email);
        email_normalize(old_key);
        r = store_del(o->txn, TABLE_EMAILS, old_key, strlen(old_key));
        if (r < 0 && r != -ENOENT)
                return r;
        r = store_put(o->txn, TABLE_EMAILS, new_key, strlen(new_key), u->username, strlen(u->username), true);
        if (r < 0)
                return r;
        u->email = email;
        return 0;
}

int user_update(op *o, const char *username, const user_changes *c, user *ret) {
        _cleanup_(user_done) user u = {};
        char changed[256] = "";
        int r;

        r = user_load_for(o, username, PERM_MANAGE_USERS, &u);
        if (r < 0)
                return r;

        if (c->first_name) {
                if ((r = check_field(o, validate_person_name, c->first_name)) < 0)
                        return r;
                u.first_name = c->first_name;
                strcat(changed, " first_name");
        }
        if (c->last_name) {
                if ((r = check_field(o, validate_person_name, c->last_name)) < 0)
                        return r;
                u.last_name = c->last_name;
                strcat(changed, " last_name");
        }
        if (c->language) {
                if ((r = check_field(o, validate_language, c->language)) < 0)
                        return r;
                u.language = c->language;
                strcat(changed, " language");
        }
        if (c->department) {
                if ((r = check_department(o, u.org, c->department)) < 0)
                        return r;
                /* The organisation's count stays: -1 and +1. */
                if ((r = org_count_users_adjust(o, u.org, u.department, -1)) < 0 ||
                    (r = org_count_users_adjust(o, u.org, c->department, +1)) < 0)
                        return r;
                u.department = c->department;
                strcat(changed, " department");
        }
        if (c->email && strcasecmp(c->email, u.email) != 0) {
                if ((r = check_field(o, validate_email, c->email)) < 0)
                        return r;
                if ((r = user_switch_email(o, &u, c->email)) < 0)
                        return r;
                u.email_verified = false;
                strcat(changed, " email");
        } else if (c->email && strcmp(c->email, u.email) != 0) {
                /* Only the case differs: same mailbox, still verified. */
                if ((r = check_field(o, validate_email, c->email)) < 0)
                        return r;
                u.email = c->email;
                strcat(changed, " email");
        }
        /* Names are published as GECOS, the department as a group. */
        if (c->first_name || c->last_name || c->department) {
                r = op_user_changed(o, u.username);
                if (r < 0)
                        return r;
        }

        if (!changed[0])
                return nx_error_set(o->error, -EINVAL, "nothing to change");
        r = user_save(o, &u);
        if (r < 0)
                return r;
        r = audit_append(o, "user.update", u.org, u.username, "changed:%s", changed);
        if (r < 0)
                return r;
        /* A new address is verified before any other mail goes to it (an
         * invited user's invitation verifies it instead). */
        if (!u.email_verified && strstr(changed, " email") && u.state != USER_INVITED) {
                r = onetime_issue(o, &u, LINK_VERIFY_EMAIL, u.email);
                if (r < 0)
                        return r;
        }
        if (ret) {
                *ret = u;
                u = (user) {};
        }
        return 0;
}

int user_role_add(op *o, const char *username, const char *role_name) {
        _cleanup_(user_done) user u = {};
        size_t n;
        int r;

        r = user_load_for(o, username, PERM_MANAGE_USERS, &u);
        if (r < 0)
                return r;
        if (role_index(role_name) < 0)
                return nx_error_set(o->error, -EINVAL, "unknown role '%s' — see 'nexalixctl role list'", role_name);
        if (strv_contains((char *const *) u.roles, role_name))
                return nx_error_set(o->error, -EEXIST, "user '%s' already has role '%s'", username, role_name);
        n = strv_length((char *const *) u.roles);
        if (n >= USER_ROLES_MAX)
                return nx_error_set(o->error, -EINVAL, "a user can have at most %d roles", USER_ROLES_MAX);
        u.roles[n] = role_name;
        u.roles[n + 1] = NULL;
        r = user_save(o, &u);
        if (r < 0)
                return r;
        r = op_user_changed(o, u.username);
        if (r < 0)
                return r;
        return audit_append(o, "user.role-add", u.org, u.username, "role %s added", role_name);
}

int user_role_remove(op *o, const char *username, const char *role_name) {
        _cleanup_(user_done) user u = {};
        size_t i, n;
        int r;

        r = user_load_for(o, username, PERM_MANAGE_USERS, &u);
        if (r < 0)
                return r;
        n = strv_length((char *const *) u.roles);
        for (i = 0; i < n; i++)
                if (strcmp(u.roles[i], role_name) == 0)
                        break;
        if (i == n)
                return nx_error_set(o->error, -ENOENT, "user '%s' does not have role '%s'", username, role_name);
        /* An organisation must keep someone who can administer it. */
        if (u.uid == o->caller.uid && strcmp(role_name, "org-admin") == 0)
                return nx_error_set(o->error, -EBUSY,
                                    "you cannot remove your own org-admin role — ask another administrator");
        memmove(&u.roles[i], &u.roles[i + 1], (n - i) * sizeof(u.roles[0]));
        r = user_save(o, &u);
        if (r < 0)
                return r;
        r = op_user_changed(o, u.username);
        if (r < 0)
                return r;
        return audit_append(o, "user.role-remove", u.org, u.username, "role %s removed", role_name);
}

/* Removes every entry of table whose key starts with "username\0". */

/* Every entry of username in a table keyed "user\0...". */
static int delete_user_entries(op *o, store_table table, const char *username, unsigned *ret_count) {
        return store_del_prefix(o->txn, table, username, strlen(username) + 1, ret_count);
}

int user_deactivate(op *o, const char *username) {
        _cleanup_(user_done) user u = {};
        unsigned tokens = 0, links = 0;
        int r;

        r = user_load_for(o, username, PERM_MANAGE_USERS, &u);
        if (r < 0)
                return r;
        if (u.uid == o->caller.uid)
                return nx_error_set(o->error, -EBUSY, "you cannot deactivate your own account");
        if (u.state == USER_DEACTIVATED)
                return nx_error_set(o->error, -EBUSY, "user '%s' is already deactivated", username);

        u.state = USER_DEACTIVATED;
        r = user_save(o, &u);
        if (r < 0)
                return r;
        /* It leaves every supplementary group in the NSS snapshot. */
        r = op_user_changed(o, u.username);
        if (r < 0)
                return r;
        r = delete_user_entries(o, TABLE_TOKENS, u.username, &tokens);
        if (r < 0)
                return r;
        r = onetime_void_all(o, u.username, &links);
        if (r < 0)
                return r;
        /* Mail still waiting for the user goes no more. */
        r = outbox_cancel_user(o, u.username, NULL);
        if (r < 0)
                return r;
        r = audit_append(o, "user.deactivate", u.org, u.username,
                         "sessions ended, %u API token%s and %u pending link%s revoked",
                         tokens, tokens == 1 ? "" : "s", links, links == 1 ? "" : "s");
        if (r < 0)
                return r;
        op_request_termination(o, u.uid, u.username, u.org);
        return 0;
}

int user_activate(op *o, const char *username) {
        _cleanup_(user_done) user u = {};
        int r;

        r = user_load_for(o, username, PERM_MANAGE_USERS, &u);
        if (r < 0)
                return r;
        if (u.state != USER_DEACTIVATED)
                return nx_error_set(o->error, -EBUSY, "user '%s' is not deactivated (state: %s)",
                                    username, user_state_to_string(u.state));
        /* Someone deactivated before accepting the invitation still has no
         * password: they go back to waiting for it. */
        u.state = isempty(u.password_hash) ? USER_INVITED : USER_ACTIVE;
        r = user_save(o, &u);
        if (r < 0)
                return r;
        /* Its department and role groups come back. */
        r = op_user_changed(o, u.username);
        if (r < 0)
                return r;
        return audit_append(o, "user.activate", u.org, u.username, "state %s", user_state_to_string(u.state));
}

int user_delete(op *o, const char *username) {
        _cleanup_(user_done) user u = {};
        unsigned counts[_LINKED_RECORD_KIND_MAX] = {}, total = 0;
        char email_key[EMAIL_MAX + 1];
        uint8_t uid_key[4];
        int r;

        r = user_load_for(o, username, PERM_MANAGE_USERS, &u);
        if (r < 0)
                return r;
        if (u.uid == o->caller.uid)
                return nx_error_set(o->error, -EBUSY, "you cannot delete your own account");

        r = linked_record_count(o->txn, u.username, counts);
        if (r < 0)
                return r;
        for (size_t i = 0; i < _LINKED_RECORD_KIND_MAX; i++)
                total += counts[i];
        if (total > 0) {
                char list[256] = "";

                for (size_t i = 0; i < _LINKED_RECORD_KIND_MAX; i++) {
                        if (!counts[i])
                                continue;
                        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%u %s",
                                 list[0] ? ", " : "", counts[i],
                                 counts[i] == 1 ? linked_record_kind_singular(i) : linked_record_kind_plural(i));
                }
                return nx_error_set(o->error, -ENOTEMPTY, "deletion blocked: %s — deactivate the user instead",
                                    list);
        }

        /* Links and waiting mail first: voiding a link audits it under the
         * user, who must still be there. */
        r = onetime_void_all(o, u.username, NULL);
        if (r < 0)
                return r;
        r = outbox_cancel_user(o, u.username, NULL);
        if (r < 0)
                return r;
        r = store_del(o->txn, TABLE_USERS, u.username, strlen(u.username));
        if (r < 0)
                return r;
        r = user_unindex(o, &u);
        if (r < 0)
                return r;
        r = org_count_users_adjust(o, u.org, u.department, -1);
        if (r < 0)
                return r;
        be32_put(uid_key, u.uid);
        r = store_del(o->txn, TABLE_UIDS, uid_key, sizeof(uid_key));
        if (r < 0 && r != -ENOENT)
                return r;
        snprintf(email_key, sizeof(email_key), "%s", u.email);
        email_normalize(email_key);
        r = store_del(o->txn, TABLE_EMAILS, email_key, strlen(email_key));
        if (r < 0 && r != -ENOENT)
                return r;
        r = delete_user_entries(o, TABLE_TOKENS, u.username, NULL);
        if (r < 0)
                return r;
        /* Their SSH keys go too, and leave the keys snapshot with the user. */
        r = delete_user_entries(o, TABLE_SSH_KEYS, u.username, NULL);
        if (r < 0)
                return r;
        /* A later user of the same name starts with a clean slate. */
        r = backoff_clear(o, u.username);
        if (r < 0)
                return r;
        r = totp_forget(o, u.username);
        if (r < 0)
                return r;
        r = op_user_changed(o, u.username);
        if (r < 0)
                return r;
        /* The uid is not released: the id counter only moves forward. */
        r = audit_append(o, "user.delete", u.org, u.username, "uid %u deleted", u.uid);
        if (r < 0)
                return r;
        op_request_termination(o, u.uid, u.username, u.org);
        return 0;
}

/* ---- logins ---- */

login_refusal user_login_refusal(const user *u) {
        if (u->state == USER_INVITED || isempty(u->password_hash))
                return LOGIN_REFUSED_INVITED;
        if (u->state == USER_DEACTIVATED)
                return LOGIN_REFUSED_DEACTIVATED;
        if (!(role_permissions((char *const *) u->roles) & PERM_LOGIN))
                return LOGIN_REFUSED_NO_LOGIN_ROLE;
        return LOGIN_ALLOWED;
}

int user_unlock(op *o, const char *username, backoff *ret_before) {
        _cleanup_(user_done) user u = {};
        backoff b;
        int r;

        r = user_load_for(o, username, PERM_MANAGE_USERS, &u);
        if (r < 0)
                return r;
        r = backoff_get(o->txn, o->now, u.username, &b);
        if (r < 0)
                return r;
        if (ret_before)
                *ret_before = b;
        if (b.failures == 0 && b.until <= o->now)
                return 0;       /* nothing to clear, nothing to record */
        r = backoff_clear(o, u.username);
        if (r < 0)
                return r;
        return audit_append(o, "user.unlock", u.org, u.username, "%u failed login%s forgotten", b.failures,
                            b.failures == 1 ? "" : "s");
}

int user_set_totp_enabled(op *o, const char *username, bool enabled) {
        _cleanup_(user_done) user u = {};
        int r;

        r = user_load(o->txn, username, &u);
        if (r == -ENOENT)
                return nx_error_set(o->error, -ENOENT, "no user '%s'", username);
        if (r < 0)
                return r;
        u.totp_enabled = enabled;
        r = user_save(o, &u);
        if (r < 0)
                return r;
        /* Whether a key login may pass the account stage without the daemon
         * depends on it (the keys snapshot, publish-keys.c). */
        return op_user_changed(o, u.username);
}

/* A new password voids the reset links: they were for the old one. */
static int void_reset_links(op *o, const char *username) {
        int r = onetime_void(o, username, LINK_RESET_ADMIN);
        return r < 0 ? r : onetime_void(o, username, LINK_RESET_SELF);
}

int user_set_password(op *o, const char *username, const char *password_hash) {
        _cleanup_(user_done) user u = {};
        int r;

        r = user_load(o->txn, username, &u);
        if (r == -ENOENT)
                return nx_error_set(o->error, -ENOENT, "no user '%s'", username);
        if (r < 0)
                return r;
        u.password_hash = password_hash;
        r = user_save(o, &u);
        if (r >= 0)
                r = void_reset_links(o, u.username);
        if (r < 0)
                return r;
        return audit_append(o, "user.password", u.org, u.username, "password changed");
}

/* ---- what links do ---- */

int user_accept_invitation(op *o, const char *username, const char *password_hash) {
        _cleanup_(user_done) user u = {};
        int r;

        r = user_load(o->txn, username, &u);
        if (r < 0)
                return r;
        if (u.state != USER_INVITED)
                return nx_error_set(o->error, -EBUSY, "this invitation is no longer valid: the account is %s",
                                    user_state_to_string(u.state));
        u.password_hash = password_hash;
        u.state = USER_ACTIVE;
        u.email_verified = true;
        r = user_save(o, &u);
        if (r < 0)
                return r;
        /* Active now: its department and role groups take it in. */
        r = op_user_changed(o, u.username);
        if (r < 0)
                return r;
        return audit_append(o, "user.activate", u.org, u.username, "invitation accepted, password set, email verified");
}

int user_reset_password(op *o, const char *username, const char *password_hash) {
        _cleanup_(user_done) user u = {};
        int r;

        r = user_load(o->txn, username, &u);
        if (r < 0)
                return r;
        if (u.state != USER_ACTIVE)
                return nx_error_set(o->error, -EBUSY, "this link is no longer valid: the account is %s",
                                    user_state_to_string(u.state));
        u.password_hash = password_hash;
        /* The link reached the mailbox: the address is the user's. */
        u.email_verified = true;
        r = user_save(o, &u);
        if (r >= 0)
                r = void_reset_links(o, u.username);
        if (r < 0)
                return r;
        /* Whoever used the old password loses every session with it. */
        op_request_termination(o, u.uid, u.username, u.org);
        return audit_append(o, "user.password", u.org, u.username, "password reset through a link, sessions ended");
}

int user_confirm_email(op *o, const char *username, const char *email) {
        _cleanup_(user_done) user u = {};
        char key[EMAIL_MAX + 1];
        int r;

        r = user_load(o->txn, username, &u);
        if (r < 0)
                return r;
        if (u.state == USER_DEACTIVATED)
                return nx_error_set(o->error, -EBUSY, "this link is no longer valid: the account is deactivated");
        if (isempty(email) || strcasecmp(email, u.email) == 0) {
                u.email_verified = true;
        } else {
                /* A change the user asked for: the old address stayed in use
                 * until now; the new one must still be free. */
                r = user_switch_email(o, &u, email);
                if (r < 0)
                        return r;
                u.email_verified = true;
        }
        snprintf(key, sizeof(key), "%s", u.email);
        r = user_save(o, &u);
        if (r < 0)
                return r;
        return audit_append(o, "user.email-verified", u.org, u.username, "email %s verified", key);
}

/* ---- listing ---- */

static bool contains_ci(const char *haystack, const char *needle) {
        return strcasestr(haystack, needle) != NULL;
}

static bool user_matches(const user *u, const user_filter *f) {
        if (f->org && strcmp(u->org, f->org) != 0)
                return false;
        if (f->department && strcmp(u->department, f->department) != 0)
                return false;
        if (f->state >= 0 && (int) u->state != f->state)
                return false;
        if (!isempty(f->search)) {
                char full[2 * (PERSON_NAME_MAX * 4) + 2];

                snprintf(full, sizeof(full), "%s %s", u->first_name, u->last_name);
                if (!contains_ci(u->username, f->search) && !contains_ci(full, f->search) &&
                    !contains_ci(u->email, f->search))
                        return false;
        }
        return true;
}

typedef struct list_walk {
        op *op;
        const user_filter *filter;
        int (*fn)(const user *u, void *userdata);
        void *userdata;
        uint32_t total;
        bool counted;           /* the number of matches is known: stop after the page */
} list_walk;

/* Match number w->total: hand it out when it is on the page. */
static int list_take(list_walk *w, const char *username, size_t username_len, const user *decoded) {
        const user_filter *f = w->filter;
        uint32_t index = w->total++;
        char name[USERNAME_MAX + 1];
        user u = {};
        int r;

        if (index < f->offset)
                return 0;
        if (f->limit && index - f->offset >= f->limit)
                return w->counted ? 1 : 0;
        if (decoded)
                return w->fn(decoded, w->userdata);
        if (username_len > USERNAME_MAX)
                return -EBADMSG;
        memcpy(name, username, username_len);
        name[username_len] = 0;
        r = user_load(w->op->txn, name, &u);
        if (r >= 0)
                r = w->fn(&u, w->userdata);
        user_done(&u);
        return r;
}

/* One index entry: state, department and organisation filter on the entry;
 * only the page, and text searches, decode users. */
static int list_visit(const void *key, size_t key_size, const void *value, size_t value_size,
                      void *userdata) {
        list_walk *w = userdata;
        const user_filter *f = w->filter;
        record_reader rd = record_reader_init(value, value_size);
        const char *username = memchr(key, 0, key_size), *dept, *org;
        size_t len;
        uint8_t state;

        if (!username)
                return -EBADMSG;
        username++;
        len = key_size - (size_t) (username - (const char *) key);
        state = record_get_u8(&rd);
        dept = record_get_string(&rd);
        org = record_get_string(&rd);
        if (rd.error)
                return rd.error;
        if ((f->state >= 0 && state != f->state) || (f->department && strcmp(dept, f->department) != 0) ||
            (f->org && strcmp(org, f->org) != 0))
                return 0;
        if (!isempty(f->search)) {
                char name[USERNAME_MAX + 1];
                _cleanup_(user_done) user u = {};
                int r;

                if (len > USERNAME_MAX)
                        return -EBADMSG;
                memcpy(name, username, len);
                name[len] = 0;
                r = user_load(w->op->txn, name, &u);
                if (r < 0)
                        return r;
                return user_matches(&u, f) ? list_take(w, username, len, &u) : 0;
        }
        return list_take(w, username, len, NULL);
}

int user_list(op *o, const user_filter *f, int (*fn)(const user *u, void *userdata),
              void *userdata, uint32_t *ret_total) {
        user_filter filter = *f;
        list_walk w = { o, &filter, fn, userdata, 0, false };
        char prefix[ORG_NAME_MAX + 2] = "";
        size_t prefix_size = 1;         /* "\0": everyone */
        uint32_t total = 0;
        int r;

        if (f->state < -1 || f->state >= _USER_STATE_MAX)
                return nx_error_set(o->error, -EINVAL, "state must be one of invited, active, deactivated");
        /* An org-admin lists their own organisation only. */
        if (!o->caller.superadmin) {
                if (f->org && strcmp(f->org, o->caller.org) != 0) {
                        *ret_total = 0;
                        return 0;
                }
                filter.org = o->caller.org;
        }
        if (!caller_may(&o->caller, PERM_MANAGE_USERS, filter.org) || (filter.org && strlen(filter.org) > ORG_NAME_MAX)) {
                *ret_total = 0;
                return 0;
        }
        if (filter.org) {
                prefix_size = strlen(filter.org) + 1;
                memcpy(prefix, filter.org, prefix_size);
        }

        /* Without another filter the number of matches is known: step over
         * the offset inside the store and stop at the end of the page. */
        if (filter.state < 0 && !filter.department && isempty(filter.search)) {
                if (filter.org)
                        r = org_count_users(o->txn, filter.org, NULL, &total);
                else {
                        uint64_t all = 0;
                        r = store_count(o->txn, TABLE_USERS, &all);
                        total = (uint32_t) all;
                }
                if (r < 0)
                        return r;
                w.counted = true;
                w.total = filter.offset;
                r = store_foreach_from(o->txn, TABLE_USER_INDEX, prefix, prefix_size, filter.offset, list_visit, &w);
        } else
                r = store_foreach(o->txn, TABLE_USER_INDEX, prefix, prefix_size, false, list_visit, &w);
        if (r < 0)
                return r;
        *ret_total = w.counted ? total : w.total;
        return 0;
}
