/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SSH public keys: `account ssh-key add|list|remove` (your own), `user
 * ssh-key add|list|remove USER` (administrators) and `org ssh-key-types`.
 * The daemon checks every key; this side only reads the file, makes sure
 * it holds exactly one public key (and never sends a private one), and
 * prints. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus-util.h"
#include "ctl.h"
#include "reply.h"

/* A .pub file is one line; anything much larger is no public key. */
#define KEY_FILE_MAX (64 * 1024)

static const table_column key_columns[] = {
        { "NAME", "name" },
        { "TYPE", "type" },
        { "BITS", "bits" },
        { "FINGERPRINT", "fingerprint" },
        { "ADDED", "created_at" },
};

/* Reads FILE ('-': standard input) into *ret: the one public key line it
 * holds, comments and blank lines skipped. Usage errors otherwise. */
static int read_key_file(const command_args *args, const char *file, char **ret) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd_owned = -1;
        const char *label = strcmp(file, "-") == 0 ? "standard input" : file;
        char *key = NULL;
        size_t size = 0, n_keys = 0;
        int fd;

        if (strcmp(file, "-") == 0)
                fd = STDIN_FILENO;
        else {
                fd = fd_owned = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return ctl_error(errno == ENOENT ? -EINVAL : -errno, "cannot open %s: %m", file);
        }
        buf = malloc(KEY_FILE_MAX + 1);
        if (!buf)
                return ctl_error(-ENOMEM, "out of memory");
        for (;;) {
                ssize_t k = read(fd, buf + size, KEY_FILE_MAX + 1 - size);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return ctl_error(-errno, "cannot read %s: %m", label);
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > KEY_FILE_MAX)
                        return ctl_usage_error(args, "%s is larger than %u KiB: not an SSH public key", label,
                                               KEY_FILE_MAX / 1024);
        }
        buf[size] = 0;
        if (memchr(buf, 0, size))
                return ctl_usage_error(args, "%s is not a text file: give a public key (a .pub file)", label);
        /* Never send a private key anywhere, not even to be refused. */
        if (strstr(buf, "PRIVATE KEY-----"))
                return ctl_usage_error(args, "%s is a private key: give the public key instead (e.g. %s.pub)",
                                       label, strcmp(file, "-") == 0 ? "id_ed25519" : file);
        if (!dbus_validate_utf8(buf, NULL))
                return ctl_usage_error(args, "%s is not UTF-8 text: give a public key (a .pub file)", label);

        for (char *line = buf, *next; line && *line; line = next) {
                char *p = line;

                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                while (*p == ' ' || *p == '\t' || *p == '\r')
                        p++;
                if (*p == 0 || *p == '#')
                        continue;
                n_keys++;
                if (!key)
                        key = p;
        }
        if (n_keys == 0)
                return ctl_usage_error(args, "%s holds no public key", label);
        if (n_keys > 1)
                return ctl_usage_error(args, "%s holds %zu lines that may be keys: add one key at a time", label,
                                       n_keys);
        *ret = strdup(key);
        return *ret ? 0 : ctl_error(-ENOMEM, "out of memory");
}

static int print_added(DBusMessage *reply, const command_args *args, const char *whose) {
        _cleanup_record_ reply_record rec = {};
        const field_value *name, *type, *bits, *fp;
        DBusMessageIter iter;
        int r;

        dbus_message_iter_init(reply, &iter);
        r = record_read(&iter, &SCHEMA_SSH_KEY, &rec);
        if (r < 0)
                return r;
        if (args->set[OPT_JSON]) {
                record_print_json(&rec);
                return 0;
        }
        name = record_get(&rec, "name");
        type = record_get(&rec, "type");
        bits = record_get(&rec, "bits");
        fp = record_get(&rec, "fingerprint");
        printf("SSH key '%s' added%s%s: %s, %u bits, %s\n", name->present ? name->s : "?",
               whose ? " for " : "", strempty(whose), type->present ? type->s : "?", bits->present ? bits->u : 0,
               fp->present ? fp->s : "?");
        return 0;
}

/* ---- account ssh-key ---- */

int verb_account_sshkey_add(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        _cleanup_free_ char *key = NULL;
        const char *name = strempty(args->value[OPT_NAME]);
        int r;

        r = read_key_file(args, args->pos[0], &key);
        if (r < 0)
                return r;
        r = ctl_call_simple(ctl, BUS_IFACE_ACCOUNT, "AddSSHKey", &reply, DBUS_TYPE_STRING, &name,
                            DBUS_TYPE_STRING, &key, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        return print_added(reply, args, NULL);
}

int verb_account_sshkey_list(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ACCOUNT, "ListSSHKeys", &reply, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        return print_reply_list(reply, &SCHEMA_SSH_KEY, args->set[OPT_JSON], key_columns,
                                ELEMENTSOF(key_columns));
}

int verb_account_sshkey_remove(ctl_context *ctl, const command_args *args) {
        const char *which = args->pos[0];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ACCOUNT, "RemoveSSHKey", NULL, DBUS_TYPE_STRING, &which,
                            DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("SSH key '%s' removed\n", which);
        return 0;
}

/* ---- user ssh-key USER ---- */

int verb_user_sshkey_add(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        _cleanup_free_ char *key = NULL;
        const char *user = args->pos[0], *name = strempty(args->value[OPT_NAME]);
        int r;

        r = read_key_file(args, args->pos[1], &key);
        if (r < 0)
                return r;
        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "AddUserSSHKey", &reply, DBUS_TYPE_STRING, &user,
                            DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &key, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        return print_added(reply, args, user);
}

int verb_user_sshkey_list(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        const char *user = args->pos[0];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "ListUserSSHKeys", &reply, DBUS_TYPE_STRING, &user,
                            DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        return print_reply_list(reply, &SCHEMA_SSH_KEY, args->set[OPT_JSON], key_columns,
                                ELEMENTSOF(key_columns));
}

int verb_user_sshkey_remove(ctl_context *ctl, const command_args *args) {
        const char *user = args->pos[0], *which = args->pos[1];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "RemoveUserSSHKey", NULL, DBUS_TYPE_STRING, &user,
                            DBUS_TYPE_STRING, &which, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("SSH key '%s' of %s removed\n", which, user);
        return 0;
}

/* ---- org ssh-key-types ORG [TYPE...] ---- */

int verb_org_sshkey_types(ctl_context *ctl, const command_args *args) {
        const char *org = args->pos[0];
        const char *const *types = (const char *const *) args->pos + 1;
        int n = (int) args->n_pos - 1, r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "SetAllowedSSHKeyTypes", NULL, DBUS_TYPE_STRING, &org,
                            DBUS_TYPE_ARRAY, DBUS_TYPE_STRING, &types, n, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        if (n == 0)
                printf("organisation %s accepts SSH keys of every type Nexalix accepts\n", org);
        else {
                printf("organisation %s accepts SSH keys of type:", org);
                for (int i = 0; i < n; i++)
                        printf(" %s", types[i]);
                printf("\n");
        }
        return 0;
}
