/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org, dept and role commands. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bus-util.h"
#include "ctl.h"
#include "reply.h"

int verb_org_create(ctl_context *ctl, const command_args *args) {
        const char *org = args->pos[0];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "CreateOrganisation", NULL,
                            DBUS_TYPE_STRING, &org, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("organisation %s created\n", org);
        return 0;
}

int verb_org_list(ctl_context *ctl, const command_args *args) {
        static const table_column columns[] = {
                { "NAME", "name" },
                { "REQUIRE_2FA", "require_2fa" },
                { "USERS", "users" },
                { "DEPARTMENTS", "departments" },
                { "CREATED", "created_at" },
        };
        _cleanup_message_ DBusMessage *reply = NULL;
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "ListOrganisations", &reply, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        return print_reply_list(reply, &SCHEMA_ORGANISATION, args->set[OPT_JSON],
                                columns, ELEMENTSOF(columns));
}

int verb_org_show(ctl_context *ctl, const command_args *args) {
        _cleanup_message_ DBusMessage *reply = NULL;
        const char *org = args->pos[0];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "GetOrganisation", &reply,
                            DBUS_TYPE_STRING, &org, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        return print_reply_record(reply, &SCHEMA_ORGANISATION, args->set[OPT_JSON]);
}

static int parse_switch(const command_args *args, const char *s, bool *ret) {
        static const char *const on[] = { "on", "yes", "true", "1" };
        static const char *const off[] = { "off", "no", "false", "0" };

        for (size_t i = 0; i < ELEMENTSOF(on); i++) {
                if (strcmp(s, on[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcmp(s, off[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return ctl_usage_error(args, "expected 'on' or 'off', not '%s'", s);
}

int verb_org_require_2fa(ctl_context *ctl, const command_args *args) {
        const char *org = args->pos[0];
        dbus_bool_t required;
        bool b = false;
        int r;

        r = parse_switch(args, args->pos[1], &b);
        if (r < 0)
                return r;
        required = b;
        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "SetRequire2FA", NULL,
                            DBUS_TYPE_STRING, &org, DBUS_TYPE_BOOLEAN, &required, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("%s: two-factor authentication %s\n", org, b ? "required" : "no longer required");
        return 0;
}

int verb_org_2fa_hint(ctl_context *ctl, const command_args *args) {
        const char *org = args->pos[0];
        dbus_bool_t shown;
        bool b = false;
        int r;

        r = parse_switch(args, args->pos[1], &b);
        if (r < 0)
                return r;
        shown = b;
        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "Set2FAHint", NULL,
                            DBUS_TYPE_STRING, &org, DBUS_TYPE_BOOLEAN, &shown, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("%s: members without two-factor authentication are %s at login\n", org,
               b ? "reminded of it" : "no longer reminded of it");
        return 0;
}

int verb_dept_create(ctl_context *ctl, const command_args *args) {
        const char *org = args->pos[0], *dept = args->pos[1];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "CreateDepartment", NULL,
                            DBUS_TYPE_STRING, &org, DBUS_TYPE_STRING, &dept, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("department %s created in %s\n", dept, org);
        return 0;
}

int verb_dept_list(ctl_context *ctl, const command_args *args) {
        static const table_column columns[] = {
                { "NAME", "name" },
                { "GROUP", "group" },
                { "GID", "gid" },
                { "USERS", "users" },
        };
        _cleanup_message_ DBusMessage *reply = NULL;
        const char *org = args->pos[0];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "ListDepartments", &reply,
                            DBUS_TYPE_STRING, &org, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        return print_reply_list(reply, &SCHEMA_DEPARTMENT, args->set[OPT_JSON],
                                columns, ELEMENTSOF(columns));
}

int verb_dept_delete(ctl_context *ctl, const command_args *args) {
        const char *org = args->pos[0], *dept = args->pos[1];
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "DeleteDepartment", NULL,
                            DBUS_TYPE_STRING, &org, DBUS_TYPE_STRING, &dept, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        printf("department %s deleted from %s\n", dept, org);
        return 0;
}

int verb_role_list(ctl_context *ctl, const command_args *args) {
        static const table_column columns[] = {
                { "NAME", "name" },
                { "PERMISSIONS", "permissions" },
                { "DESCRIPTION", "description" },
        };
        _cleanup_message_ DBusMessage *reply = NULL;
        int r;

        r = ctl_call_simple(ctl, BUS_IFACE_ADMIN, "ListRoles", &reply, DBUS_TYPE_INVALID);
        if (r < 0)
                return r;
        return print_reply_list(reply, &SCHEMA_ROLE, args->set[OPT_JSON],
                                columns, ELEMENTSOF(columns));
}
