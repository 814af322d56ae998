/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The login socket's protocol (RUNTIME/pam.sock), spoken by pam_nexalix.so
 * and nexalixd (docs/login.md). A frame is a 32-bit little-endian length,
 * then that many bytes: a one-byte type and the fields of that type, in
 * order — integers little-endian, strings as a 16-bit length and the bytes
 * (UTF-8, no NUL). The module opens one connection per PAM call and sends
 * START; the daemon then drives the conversation: PROMPT (the module answers
 * with ANSWER) and MESSAGE, any number of times, and finally RESULT.
 *
 * Nothing here allocates except the frame buffers it is given, prints, or
 * aborts: the PAM module links it into sshd, login and screen lockers. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGIN_SOCKET_FILE "pam.sock"
#define LOGIN_PROTOCOL_VERSION 1
/* No frame is larger: a prompt with a QR code drawn in text is the largest
 * thing that crosses. */
#define LOGIN_FRAME_MAX (64 * 1024)
#define LOGIN_STRING_MAX 4096
/* What the module sends is small (START's strings, one answer): the daemon
 * refuses larger frames without buffering them. */
#define LOGIN_REQUEST_MAX (32 * 1024)

typedef enum login_frame_type {
        LOGIN_START = 1,        /* module -> daemon */
        LOGIN_ANSWER = 2,       /* module -> daemon */
        LOGIN_PROMPT = 3,       /* daemon -> module */
        LOGIN_MESSAGE = 4,      /* daemon -> module */
        LOGIN_RESULT = 5,       /* daemon -> module */
} login_frame_type;

/* What the module was called for. */
typedef enum login_stage {
        LOGIN_STAGE_AUTH = 1,           /* pam_sm_authenticate */
        LOGIN_STAGE_ACCOUNT = 2,        /* pam_sm_acct_mgmt */
        LOGIN_STAGE_PASSWORD_CHECK = 3, /* pam_sm_chauthtok, PAM_PRELIM_CHECK */
        LOGIN_STAGE_PASSWORD = 4,       /* pam_sm_chauthtok, PAM_UPDATE_AUTHTOK */
        LOGIN_STAGE_SESSION_OPEN = 5,   /* pam_sm_open_session */
        LOGIN_STAGE_SESSION_CLOSE = 6,  /* pam_sm_close_session */
        _LOGIN_STAGE_MAX,
} login_stage;

/* START flags. */
#define LOGIN_FLAG_SILENT (1u << 0)             /* PAM_SILENT: no messages */
#define LOGIN_FLAG_ALLOW_TOKEN (1u << 1)        /* the service accepts an API token for a password */

/* How a prompt is shown, and what it asks for (so that the module can honour
 * use_first_pass and try_first_pass for passwords, and keep what was typed). */
typedef enum login_prompt_style {
        LOGIN_PROMPT_ECHO_OFF = 1,
        LOGIN_PROMPT_ECHO_ON = 2,
} login_prompt_style;

typedef enum login_prompt_kind {
        LOGIN_ASK_PASSWORD = 1,         /* the current password (PAM_AUTHTOK in auth) */
        LOGIN_ASK_OLD_PASSWORD = 2,     /* the current password when changing it (PAM_OLDAUTHTOK) */
        LOGIN_ASK_NEW_PASSWORD = 3,     /* a new password (PAM_AUTHTOK in chauthtok) */
        LOGIN_ASK_NEW_PASSWORD_AGAIN = 4,
        LOGIN_ASK_CODE = 5,             /* a verification code */
        LOGIN_ASK_OTHER = 6,
} login_prompt_kind;

typedef enum login_message_style {
        LOGIN_MESSAGE_INFO = 1,
        LOGIN_MESSAGE_ERROR = 2,
} login_message_style;

/* What the daemon answers; the module maps each to its PAM code. */
typedef enum login_result {
        LOGIN_SUCCESS = 0,
        LOGIN_USER_UNKNOWN = 1,         /* not a Nexalix user (or a local account's): the next module decides */
        LOGIN_AUTH_ERR = 2,             /* wrong password or code, or may not authenticate */
        LOGIN_PERM_DENIED = 3,          /* this caller may not ask about this user */
        LOGIN_ACCT_EXPIRED = 4,         /* deactivated, or not activated yet */
        LOGIN_MAXTRIES = 5,             /* backed off after failed attempts */
        LOGIN_AUTHTOK_ERR = 6,          /* a new password was refused */
        LOGIN_SESSION_ERR = 7,
        LOGIN_ABORT = 8,                /* the conversation failed */
        LOGIN_SYSTEM_ERR = 9,
        _LOGIN_RESULT_MAX,
} login_result;

typedef struct login_start {
        uint32_t version;
        uint32_t stage;                 /* login_stage */
        uint32_t flags;
        /* The real uid of the process that called PAM: a setuid-root program
         * (passwd, su) connects as root on behalf of this uid. */
        uint32_t requester_uid;
        const char *user, *service, *tty, *rhost, *ruser;
        const char *session_id;         /* SESSION_CLOSE: what SESSION_OPEN returned */
} login_start;

typedef struct login_prompt {
        uint8_t style, kind;
        const char *text;
} login_prompt;

typedef struct login_message {
        uint8_t style;
        const char *text;
} login_message;

typedef struct login_answer {
        bool cancelled;                 /* the conversation failed or was given no answer */
        const char *text;
} login_answer;

typedef struct login_result_frame {
        uint32_t result;                /* login_result */
        const char *data;               /* SESSION_OPEN: the session's id */
} login_result_frame;

/* ---- building frames ----
 *
 * A frame is built into a buffer of LOGIN_FRAME_MAX + 4 bytes; each returns
 * the frame's total size, or -E2BIG when a string is too long. */
typedef uint8_t login_buffer[LOGIN_FRAME_MAX + 4];

int login_build_start(login_buffer buf, const login_start *s);
int login_build_prompt(login_buffer buf, const login_prompt *p);
int login_build_message(login_buffer buf, const login_message *m);
int login_build_answer(login_buffer buf, const login_answer *a);
int login_build_result(login_buffer buf, const login_result_frame *r);

/* ---- reading frames ----
 *
 * login_frame_size() tells from the first bytes received how long the whole
 * frame is: 0 when fewer than 4 bytes are there, -EBADMSG when the length is
 * out of bounds. Parsing points strings into a scratch buffer (at least the
 * frame's size) as NUL-terminated copies; it returns the frame's type, or
 * -EBADMSG for a frame that is malformed or not of the expected type. */
int login_frame_size(const uint8_t *data, size_t size);

int login_parse_start(const uint8_t *frame, size_t size, char *scratch, login_start *ret);
int login_parse_prompt(const uint8_t *frame, size_t size, char *scratch, login_prompt *ret);
int login_parse_message(const uint8_t *frame, size_t size, char *scratch, login_message *ret);
int login_parse_answer(const uint8_t *frame, size_t size, char *scratch, login_answer *ret);
int login_parse_result(const uint8_t *frame, size_t size, char *scratch, login_result_frame *ret);
/* The type of a frame (its fifth byte), or -EBADMSG. */
int login_frame_type_of(const uint8_t *frame, size_t size);

const char *login_result_to_string(login_result r);
