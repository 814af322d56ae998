/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* a{sv} dictionaries on top of libdbus, shared by nexalixd and nexalixctl.
 * Never linked into the PAM or NSS module: libdbus may abort its host. */

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stdint.h>

#define BUS_NAME "org.nexalix.Identity1"
#define BUS_PATH "/org/nexalix/Identity1"
#define BUS_IFACE_BASE "org.nexalix.Identity1"
#define BUS_IFACE_ADMIN "org.nexalix.Identity1.Admin"
#define BUS_IFACE_LINKS "org.nexalix.Identity1.Links"
#define BUS_IFACE_ACCOUNT "org.nexalix.Identity1.Account"
#define BUS_IFACE_PUBLIC "org.nexalix.Identity1.Public"
#define BUS_IFACE_NOTIFICATIONS "org.nexalix.Identity1.Notifications"
#define BUS_ERROR_PREFIX "org.nexalix.Identity1.Error."
#define BUS_ERROR_INVALID_ARGUMENT BUS_ERROR_PREFIX "InvalidArgument"
#define BUS_ERROR_NOT_FOUND BUS_ERROR_PREFIX "NotFound"
#define BUS_ERROR_ALREADY_EXISTS BUS_ERROR_PREFIX "AlreadyExists"
#define BUS_ERROR_ACCESS_DENIED BUS_ERROR_PREFIX "AccessDenied"
#define BUS_ERROR_DELETION_BLOCKED BUS_ERROR_PREFIX "DeletionBlocked"
#define BUS_ERROR_INVALID_STATE BUS_ERROR_PREFIX "InvalidState"
#define BUS_ERROR_FAILED BUS_ERROR_PREFIX "Failed"
#define BUS_ERROR_LIMIT_EXCEEDED BUS_ERROR_PREFIX "LimitExceeded"
#define BUS_ERROR_EXPIRED BUS_ERROR_PREFIX "Expired"

/* Writing. Every function returns 0 or -ENOMEM. */
int bus_dict_open(DBusMessageIter *parent, DBusMessageIter *ret_dict);
int bus_dict_close(DBusMessageIter *parent, DBusMessageIter *dict);
int bus_dict_add_string(DBusMessageIter *dict, const char *key, const char *value);
int bus_dict_add_uint32(DBusMessageIter *dict, const char *key, uint32_t value);
int bus_dict_add_uint64(DBusMessageIter *dict, const char *key, uint64_t value);
int bus_dict_add_bool(DBusMessageIter *dict, const char *key, bool value);
int bus_dict_add_strv(DBusMessageIter *dict, const char *key, char *const *values);

/* Reading. A field table names the keys a caller understands; values land in
 * the pointed-to variables:
 *   's'  const char *  (points into the message)
 *   'u'  uint32_t      't' uint64_t      'b' bool
 *   'a'  char **       (an 'as', newly allocated; free with strv_free)
 * `present`, when not NULL, is set true if the key was in the dictionary. */
typedef struct bus_dict_field {
        const char *key;
        char type;
        void *value;
        bool *present;
        size_t max_items;       /* 'a': more items is an error (-E2BIG) */
} bus_dict_field;

/* Parses the a{sv} at iter (which must point at it). With strict, a key not
 * in the table or a value of the wrong type is an error: -EINVAL, and
 * *ret_bad_key names it; an array longer than its max_items is -E2BIG. Without strict such keys are skipped (clients reading
 * a newer daemon's records). */
int bus_dict_read(DBusMessageIter *iter, const bus_dict_field *fields, bool strict,
                  const char **ret_bad_key);

/* Reads an 'as' at iter into a newly allocated NULL-terminated array of at
 * most max strings (-E2BIG beyond). */
int bus_read_strv(DBusMessageIter *iter, size_t max, char ***ret);
