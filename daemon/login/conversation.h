/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One connection of pam_nexalix.so, as the login steps see it: what the
 * module asked for (START), who the peer is, and the calls that prompt,
 * print and answer. Private to daemon/login/. */

#include <stdbool.h>
#include <stdint.h>

#include "login-protocol.h"
#include "login-server.h"
#include "validate.h"

typedef struct event_source event_source;

/* Where the conversation stands: the prompt whose answer is awaited. Each
 * has a row in login-steps.c's table (what it asks, and what follows the
 * answer); a new factor is a new row. */
typedef enum login_step {
        STEP_NONE,
        STEP_PASSWORD,
        STEP_OLD_PASSWORD,
        STEP_NEW_PASSWORD,
        STEP_NEW_PASSWORD_AGAIN,
        STEP_CODE,                      /* a TOTP code or a recovery code */
        STEP_ENROL_CODE,                /* the first code of a new secret (Require 2FA) */
        STEP_CONTINUE,                  /* "press Enter": the recovery codes were shown */
        _STEP_MAX,
} login_step;

typedef struct conversation {
        login_server *server;
        const login_services *services;
        struct conversation *prev, *next;
        int fd;
        event_source *io, *timeout;

        /* The peer, from SO_PEERCRED when it connected. */
        uint32_t peer_uid, peer_pid;
        uint64_t peer_start;            /* the peer process's start time */

        /* What START asked. requester is on whose behalf: the peer's uid,
         * or for a root peer the real uid of the program it runs (su, passwd
         * started by a user), as the module reports it. */
        bool started;
        login_stage stage;
        uint32_t flags, requester;
        char username[USERNAME_MAX + 1];
        char *service, *tty, *rhost, *session_id;

        /* What the steps learnt and keep between prompts. */
        bool known;                     /* a Nexalix user, not shadowed by a local account */
        uint32_t uid;
        char language[4];
        login_step waiting;
        unsigned tries;
        char *new_password;             /* the first entry, until it is confirmed */

        /* busy: a job runs on a worker for this conversation. gone: the
         * connection is closed; the conversation is freed once nothing
         * holds a reference (refs: the running job, the frame being
         * handled). finished: RESULT is queued; the connection closes once
         * it is sent. */
        bool busy, gone, finished;
        unsigned refs;

        uint8_t *in;                    /* the frame being received */
        size_t in_size;
        char *scratch;                  /* parsed strings of that frame */
        uint8_t *out;                   /* frames not yet sent */
        size_t out_size, out_sent, out_allocated;
} conversation;

/* Asks the module's user (style and kind as login-protocol.h) and waits for
 * the answer, which goes to login_steps_answer(). */
void conversation_prompt(conversation *c, login_step step, login_prompt_style style, login_prompt_kind kind,
                         const char *text);
void conversation_message(conversation *c, login_message_style style, const char *text);
/* The verdict; the conversation ends once it is sent. data: a session id. */
void conversation_finish(conversation *c, login_result result, const char *data);

/* Around a job on a worker: hold before submitting, release in the job's
 * done callback. release() returns false when the conversation ended
 * meanwhile; it stays readable until the callback returns (it is freed
 * only when the loop next waits), and whatever it would send is dropped. */
void conversation_hold(conversation *c);
bool conversation_release(conversation *c);

/* ---- login-steps.c ---- */

/* START was received and c filled in. */
void login_steps_begin(conversation *c);
/* The answer to the prompt of c->waiting (NULL when the user gave none). */
void login_steps_answer(conversation *c, const char *answer);
