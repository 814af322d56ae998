/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* user commands for administrators (user import is in ctl-import.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bus-util.h"
#include "ctl.h"
#include "password.h"
#include "reply.h"

/* ListUsers pages: large enough to be fast, small enough to stay far below
 * the bus's message size limit even with long names. */
#define USER_LIST_PAGE 1000

static const char *const USER_STATES[] = { "invited", "active", "deactivated" };

/* Options that map one to one onto a user dictionary key. */
static const struct {
        opt_id opt;
        const char *key;
} user_field_options[] = {
        { OPT_FIRST, "first_name" },
        { OPT_LAST, "last_name" },
        { OPT_EMAIL, "email" },
        { OPT_LANGUAGE, "language" },
        { OPT_DEPARTMENT, "department" },
};

/* Adds every given option of user_field_options to dict; returns how many. */
static int dict_add_user_fields(DBusMessageIter *dict, const command_args *args, size_t *ret_n) {
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(user_field_options); i++) {
                opt_id opt = user_field_options[i].opt;
                if (!args->set[opt])
                        continue;
                if (bus_dict_add_string(dict, user_field_options[i].key, args->value[opt]) < 0)
                        return -ENOMEM;
                n++;
        }
        if (ret_n)
                *ret_n = n;
        return 0;
}

/* Reads the user record that is the reply's first argument. */
static int reply_read_user(DBusMessage *reply, reply_record *ret) {
        DBusMessageIter iter;

        dbus_message_iter_init(reply, &iter);
        return record_read(&iter, &SCHEMA_USER, ret);
}

static const char *user_string(const reply_record *user, const char *key) {
        const field_value *v = record_get(user, key);
        return v && v->present ? v->s : "?";
}

static uint32_t user_uid(const reply_record *user) {
        const field_value *v = record_get(user, "uid");
        return v ? v->u : 0;
}

/* The password of a new active user, from stdin or the terminal. */
static int user_create_password(const command_args *args, char buf[static PASSWORD_BUF_SIZE]) {
        const char *reason;
        int r;

        if (args->set[OPT_INVITE]) {
                buf[0] = '\0';
                return 0;
        }
        r = args->set[OPT_PASSWORD_STDIN] ? password_read_stdin(buf) : password_prompt_new(buf);
        if (r < 0)
                return r;
        /* The daemon applies the same rule; checking here also keeps a
         * password that is not UTF-8 away from libdbus, which would abort. */
        if (validate_password(buf, &reason) < 0) {
                explicit_bzero(buf, PASSWORD_BUF_SIZE);
                /* A refusal like the daemon's (exit 1), not a usage error. */
                return ctl_error(-EPERM, "%s", reason);
        }
        return 0;
}

int verb_user_create(ctl_context *ctl, const command_args *args) {
        _cleanup_password_ char password[PASSWORD_BUF_SIZE];
        _cleanup_message_ DBusMessage *m = NULL, *reply = NULL;
        _cleanup_record_ reply_record user = {};
        const char *p = password;
        DBusMessageIter iter, dict;
        int r;

        if (args->set[OPT_INVITE] && args->set[OPT_PASSWORD_STDIN])
                return ctl_usage_error(args, "--invite and --password-stdin exclude each other: "
                                       "an invited user sets their own password");

        r = ctl_new_call(BUS_IFACE_ADMIN, "CreateUser", &m);
        if (r < 0)
                return r;
        dbus_message_iter_init_append(m, &iter);
        if (bus_dict_open(&iter, &dict) < 0 ||
            bus_dict_add_string(&dict, "username", args->pos[0]) < 0 ||
            bus_dict_add_string(&dict, "org", args->value[OPT_ORG]) < 0 ||
            dict_add_user_fields(&dict, args, NULL) < 0 ||
            (!args->set[OPT_LANGUAGE] && bus_dict_add_string(&dict, "language", "en") < 0) ||
            bus_dict_add_strv(&dict, "roles", (char *const *) args->roles) < 0 ||
            bus_dict_add_bool(&dict, "invite", args->set[OPT_INVITE]) < 0 ||
            bus_dict_close(&iter, &dict) < 0)
                return ctl_error(-ENOMEM, "out of memory");

        /* Only now, with the request complete, ask for the password. */
        r = user_create_password(args, password);
        if (r < 0)
                return r;
        if (!dbus_message_append_args(m, DBUS_TYPE_STRING, &p, DBUS_TYPE_INVALID))
                return ctl_error(-ENOMEM, "out of memory");
        explicit_bzero(password, sizeof password);

        /* libdbus keeps its own copy of the message body and offers no way
         * to wipe it; drop the message as soon as it is sent. */
        r = ctl_call(ctl, m, &reply);
        dbus_message_unref(TAKE_PTR(m));
        if (r < 0)
                return r;

        r = reply_read_user(reply, &user);
        if (r < 0)
                return r;
        if (args->set[OPT_JSON])
                record_print_json(&user);
        else
                printf("%s created (uid %u, %s)\n", user_string(&user, "username"),
                       user_uid(&user), user_string(&user, "state"));
        return 0;
}

static int user_list_page(ctl_context *ctl, const command_args *args, bool paged, uint32_t limit, uint32_t offset,
                          reply_list *list, uint32_t *ret_total) {
        _cleanup_message_ DBusMessage *m = NULL, *reply = NULL;
        DBusMessageIter iter, dict;
        static const struct {
                opt_id opt;
                const char *key;
        } filters[] = {
                { OPT_ORG, "org" },
                { OPT_DEPARTMENT, "department" },
                { OPT_STATE, "state" },
                { OPT_SEARCH, "search" },
        };
        int r;

        r = ctl_new_call(BUS_IFACE_ADMIN, "ListUsers", &m);
        if (r < 0)
                return r;
        dbus_message_iter_init_append(m, &iter);
        if (bus_dict_open(&iter, &dict) < 0)
                return ctl_error(-ENOMEM, "out of memory");
        for (size_t i = 0; i < ELEMENTSOF(filters); i++)
                if (args->set[filters[i].opt] &&
                    bus_dict_add_string(&dict, filters[i].key, args->value[filters[i].opt]) < 0)
                        return ctl_error(-ENOMEM, "out of memory");
        if ((paged && bus_dict_add_uint32(&dict, "limit", limit) < 0) ||
            (offset > 0 && bus_dict_add_uint32(&dict, "offset", offset) < 0) ||
            bus_dict_close(&iter, &dict) < 0)
                return ctl_error(-ENOMEM, "out of memory");

        r = ctl_call(ctl, m, &reply);
        if (r < 0)
                return r;

        dbus_message_iter_init(reply, &iter);
        r = record_list_read(list, reply, &iter);
        if (r < 0)
                return r;
        if (!dbus_message_iter_next(&iter) || dbus_message_iter_get_arg_type(&iter) != DBUS_TYPE_UINT32)
                return ctl_error(-EBADMSG, "unexpected reply from nexalixd: no total in ListUsers");
        dbus_uint32_t total;
        dbus_message_iter_get_basic(&iter, &total);
        *ret_total = total;
        return 0;
}

int verb_user_list(ctl_context *ctl, const command_args *args) {
        static const table_column columns[] = {
                { "USERNAME", "username" },
                { "UID", "uid" },
                { "ORG", "org" },
                { "DEPARTMENT", "department" },
                { "STATE", "state" },
                { "ROLES", "roles" },
                { "EMAIL", "email" },
        };
        _cleanup_record_list_ reply_list list = { .schema = &SCHEMA_USER };
        uint32_t limit = 0, offset = 0, total = 0;
        int r;

        if (args->set[OPT_STATE]) {
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(USER_STATES); i++)
                        known = known || strcmp(args->value[OPT_STATE], USER_STATES[i]) == 0;
                if (!known)
                        return ctl_usage_error(args, "--state must be invited, active or deactivated, not '%s'",
                                               args->value[OPT_STATE]);
        }
        if (args->set[OPT_LIMIT]) {
                r = ctl_parse_uint32(args, OPT_LIMIT, "--limit", &limit);
                if (r < 0)
                        return r;
        }
        if (args->set[OPT_OFFSET]) {
                r = ctl_parse_uint32(args, OPT_OFFSET, "--offset", &offset);
                if (r < 0)
                        return r;
        }

        if (!args->set[OPT_LIMIT]) {
                /* One page of the daemon's default size. */
                r = user_list_page(ctl, args, false, 0, offset, &list, &total);
                if (r < 0)
                        return r;
        } else
                /* Fetch in pages so that "--limit 0" (everything) never needs
                 * one huge message. The pages are separate reads: a user
                 * created meanwhile may shift the list by one. */
                for (;;) {
                        size_t before = list.n;
                        uint32_t want = USER_LIST_PAGE;

                        if (limit > 0 && limit - list.n < want)
                                want = limit - (uint32_t) list.n;
                        r = user_list_page(ctl, args, true, want, offset + (uint32_t) list.n,
                                           &list, &total);
                        if (r < 0)
                                return r;
                        if (list.n - before < want ||
                            (limit > 0 && list.n >= limit) ||
                            offset + list.n >= total)
                                break;
                }

        if (args->set[OPT_ENVELOPE] && !args->set[OPT_JSON])
                return ctl_usage_error(args, "--envelope goes with --json");
        if (args->set[OPT_ENVELOPE]) {
                json_writer w;

                json_writer_init(&w, stdout);
                json_begin_object(&w);
                json_key(&w, "users");
                record_list_write_json(&w, &list);
                json_key(&w, "total");
                json_uint(&w, total);
                json_key(&w, "offset");
                json_uint(&w, offset);
                json_key(&w, "truncated");
                json_bool(&w, offset + list.n < total);
                json_end_object(&w);
                fputc('\n', stdout);
                return 0;
        }
        if (args->set[OPT_JSON]) {
                record_list_print_json(&list);
                /* The array is the contract; a script that wants to know
                 * whether it got everything reads stderr or uses --envelope. */
                if (offset + list.n < total)
                        fprintf(stderr, "nexalixctl: %zu of %u users shown (from offset %u); "
                                "use --limit, --offset or --envelope\n", list.n, total, offset);
                return 0;
        }
        r = record_list_print_table(&list, columns, ELEMENTSOF(columns));
        if (r < 0)
                return r;
        if (list.n < total)
                printf("%zu of %u users\n", list.n, total);
        return 0;
}

int verb_user_show(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        const char *username = args->pos[0];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "GetUser", &reply,
                            DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        return print_reply_record(reply, &SCHEMA_USER_DETAIL, args->set[OPT_JSON]);
}

int verb_user_update(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *m = NULL, *reply = NULL;
        _cleanup_record_ reply_record user = {};
        const char *username = args->pos[0];
        DBusMessageIter iter, dict;
        size_t n_changes;
        int r;

        r = ctl_new_call(BUS_IFACE_ADMIN, "UpdateUser", &m);
        if (r < 0)
                return r;
        dbus_message_iter_init_append(m, &iter);
        if (!dbus_message_iter_append_basic(&iter, DBUS_TYPE_STRING, &username) ||
            bus_dict_open(&iter, &dict) < 0 ||
            dict_add_user_fields(&dict, args, &n_changes) < 0 ||
            bus_dict_close(&iter, &dict) < 0)
                return ctl_error(-ENOMEM, "out of memory");
        if (n_changes == 0)
                return ctl_usage_error(args, "nothing to change: give --first, --last, --email, "
                                       "--language or --department");

        r = ctl_call(ctl, m, &reply);
        if (r < 0)
                return r;
        r = reply_read_user(reply, &user);
        if (r < 0)
                return r;
        if (args->set[OPT_JSON])
                record_print_json(&user);
        else
                printf("%s updated\n", user_string(&user, "username"));
        return 0;
}

/* AddUserRole and RemoveUserRole take (username, role) and return nothing. */
static int user_role_change(ctl_context *ctl, const command_args *args, const char *method, const char *done) {
        const char *username = args->pos[0], *role = args->pos[1];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, method, NULL,
                            DBUS_TYPE_STRING, &username, DBUS_TYPE_STRING, &role, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("%s: role %s %s\n", username, role, done);
        return 0;
}

int verb_user_role_add(ctl_context *ctl, const command_args *args) {
        return user_role_change(ctl, args, "AddUserRole", "granted");
}

int verb_user_role_remove(ctl_context *ctl, const command_args *args) {
        return user_role_change(ctl, args, "RemoveUserRole", "removed");
}

int verb_user_deactivate(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        const char *username = args->pos[0];
        dbus_uint32_t terminated;
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "DeactivateUser", &reply,
                            DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        r = ctl_reply_get(reply, DBUS_TYPE_UINT32, &terminated, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("%s deactivated; %u process%s terminated\n", username, terminated,
               terminated == 1 ? "" : "es");
        return 0;
}

/* ActivateUser and DeleteUser take a username and return nothing. */
static int user_simple(ctl_context *ctl, const command_args *args, const char *method, const char *done) {
        const char *username = args->pos[0];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, method, NULL,
                            DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("%s %s\n", username, done);
        return 0;
}

int verb_user_activate(ctl_context *ctl, const command_args *args) {
        return user_simple(ctl, args, "ActivateUser", "activated");
}

int verb_user_delete(ctl_context *ctl, const command_args *args) {
        /* A refusal (DeletionBlocked) already lists what is linked and
         * suggests deactivation; ctl_call prints it as it is. */
        return user_simple(ctl, args, "DeleteUser", "deleted");
}

int verb_user_unlock(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        const char *username = args->pos[0];
        dbus_uint32_t failures;
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "UnlockUser", &reply,
                            DBUS_TYPE_STRING, &username, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        r = ctl_reply_get(reply, DBUS_TYPE_UINT32, &failures, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        if (failures == 0)
                printf("%s had no failed logins to forget\n", username);
        else
                printf("%s unlocked; %u failed login%s forgotten\n", username, failures, failures == 1 ? "" : "s");
        return 0;
}
