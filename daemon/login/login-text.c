/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "login-text.h"

#include <stdio.h>
#include <string.h>

static const char *const texts[][_TEXT_MAX] = {
        /* en */ {
                [TEXT_PASSWORD] = "Password: ",
                [TEXT_CURRENT_PASSWORD] = "Current password: ",
                [TEXT_NEW_PASSWORD] = "New password: ",
                [TEXT_RETYPE_PASSWORD] = "Retype new password: ",
                [TEXT_PASSWORDS_DIFFER] = "The passwords do not match.",
                [TEXT_PASSWORD_TOO_SHORT] = "The password must be at least 8 characters long.",
                [TEXT_PASSWORD_TOO_LONG] = "The password must be at most 1024 characters long.",
                [TEXT_PASSWORD_NOT_UTF8] = "The password must be valid UTF-8 text.",
                [TEXT_PASSWORD_CHANGED] = "Your password has been changed.",
                [TEXT_PASSWORD_UNCHANGED] = "Your password was not changed.",
                [TEXT_NOT_ACTIVATED] = "This account has not been activated yet: set its password with the invitation link first.",
                [TEXT_DEACTIVATED] = "This account has been deactivated. Ask an administrator of your organisation.",
                [TEXT_NO_LOGIN] = "This account may not log in: it has no role that allows it.",
                [TEXT_BACKED_OFF] = "Too many failed attempts: try again in %u s.",
                [TEXT_CODE] = "Verification code: ",
                [TEXT_CODE_WRONG] = "Wrong verification code.",
                [TEXT_RECOVERY_CODE_USED] = "You logged in with a recovery code; it will not work again. Make a new set with: nexalixctl 2fa recovery-codes",
                [TEXT_ENROL_INTRO] = "Your organisation requires two-factor authentication. Add this account to an authenticator app: scan the QR code, or enter the key below.",
                [TEXT_ENROL_KEY] = "Key: ",
                [TEXT_ENROL_CODE] = "Code shown by the app: ",
                [TEXT_ENROL_DONE] = "Two-factor authentication is on. From now on you will be asked for a code from the app after your password.",
                [TEXT_RECOVERY_INTRO] = "Your recovery codes (each works once, in place of a code, if you lose the app); write them down now, they are not shown again:",
                [TEXT_CONTINUE] = "Press Enter to continue: ",
                [TEXT_MUST_ENROL] = "Your organisation requires two-factor authentication: log in once with your password to set it up.",
                [TEXT_HINT] = "Tip: protect your account with two-factor authentication: nexalixctl 2fa enable",
        },
        /* es */ {
                [TEXT_PASSWORD] = "Password: ",
                [TEXT_CURRENT_PASSWORD] = "Contraseña actual: ",
                [TEXT_NEW_PASSWORD] = "Nueva contraseña: ",
                [TEXT_RETYPE_PASSWORD] = "Repita la nueva contraseña: ",
                [TEXT_PASSWORDS_DIFFER] = "Las contraseñas no coinciden.",
                [TEXT_PASSWORD_TOO_SHORT] = "La contraseña debe tener al menos 8 caracteres.",
                [TEXT_PASSWORD_TOO_LONG] = "La contraseña debe tener como máximo 1024 caracteres.",
                [TEXT_PASSWORD_NOT_UTF8] = "La contraseña debe ser texto UTF-8 válido.",
                [TEXT_PASSWORD_CHANGED] = "Su contraseña ha sido cambiada.",
                [TEXT_PASSWORD_UNCHANGED] = "Su contraseña no ha sido cambiada.",
                [TEXT_NOT_ACTIVATED] = "Esta cuenta aún no está activada: establezca primero su contraseña con el enlace de invitación.",
                [TEXT_DEACTIVATED] = "Esta cuenta ha sido desactivada. Consulte a un administrador de su organización.",
                [TEXT_NO_LOGIN] = "Esta cuenta no puede iniciar sesión: no tiene ningún rol que lo permita.",
                [TEXT_BACKED_OFF] = "Demasiados intentos fallidos: inténtelo de nuevo dentro de %u s.",
                [TEXT_CODE] = "Código de verificación: ",
                [TEXT_CODE_WRONG] = "Código de verificación incorrecto.",
                [TEXT_RECOVERY_CODE_USED] = "Ha iniciado sesión con un código de recuperación; no volverá a funcionar. Genere otros con: nexalixctl 2fa recovery-codes",
                [TEXT_ENROL_INTRO] = "Su organización exige la autenticación en dos pasos. Añada esta cuenta a una aplicación de autenticación: escanee el código QR o introduzca la clave.",
                [TEXT_ENROL_KEY] = "Clave: ",
                [TEXT_ENROL_CODE] = "Código que muestra la aplicación: ",
                [TEXT_ENROL_DONE] = "La autenticación en dos pasos está activada. A partir de ahora se le pedirá un código de la aplicación después de la contraseña.",
                [TEXT_RECOVERY_INTRO] = "Sus códigos de recuperación (cada uno sirve una vez, en lugar de un código, si pierde la aplicación); anótelos ahora, no se volverán a mostrar:",
                [TEXT_CONTINUE] = "Pulse Intro para continuar: ",
                [TEXT_MUST_ENROL] = "Su organización exige la autenticación en dos pasos: inicie sesión una vez con su contraseña para configurarla.",
                [TEXT_HINT] = "Consejo: proteja su cuenta con la autenticación en dos pasos: nexalixctl 2fa enable",
        },
        /* pt */ {
                [TEXT_PASSWORD] = "Password: ",
                [TEXT_CURRENT_PASSWORD] = "Senha atual: ",
                [TEXT_NEW_PASSWORD] = "Nova senha: ",
                [TEXT_RETYPE_PASSWORD] = "Repita a nova senha: ",
                [TEXT_PASSWORDS_DIFFER] = "As senhas não coincidem.",
                [TEXT_PASSWORD_TOO_SHORT] = "A senha deve ter pelo menos 8 caracteres.",
                [TEXT_PASSWORD_TOO_LONG] = "A senha deve ter no máximo 1024 caracteres.",
                [TEXT_PASSWORD_NOT_UTF8] = "A senha deve ser texto UTF-8 válido.",
                [TEXT_PASSWORD_CHANGED] = "A sua senha foi alterada.",
                [TEXT_PASSWORD_UNCHANGED] = "A sua senha não foi alterada.",
                [TEXT_NOT_ACTIVATED] = "Esta conta ainda não foi ativada: defina primeiro a sua senha com o link de convite.",
                [TEXT_DEACTIVATED] = "Esta conta foi desativada. Fale com um administrador da sua organização.",
                [TEXT_NO_LOGIN] = "Esta conta não pode iniciar sessão: não tem nenhuma função que o permita.",
                [TEXT_BACKED_OFF] = "Demasiadas tentativas falhadas: tente novamente dentro de %u s.",
                [TEXT_CODE] = "Código de verificação: ",
                [TEXT_CODE_WRONG] = "Código de verificação errado.",
                [TEXT_RECOVERY_CODE_USED] = "Iniciou sessão com um código de recuperação; não voltará a funcionar. Crie outros com: nexalixctl 2fa recovery-codes",
                [TEXT_ENROL_INTRO] = "A sua organização exige autenticação de dois fatores. Adicione esta conta a uma aplicação de autenticação: leia o código QR ou introduza a chave.",
                [TEXT_ENROL_KEY] = "Chave: ",
                [TEXT_ENROL_CODE] = "Código mostrado pela aplicação: ",
                [TEXT_ENROL_DONE] = "A autenticação de dois fatores está ativa. A partir de agora ser-lhe-á pedido um código da aplicação depois da senha.",
                [TEXT_RECOVERY_INTRO] = "Os seus códigos de recuperação (cada um serve uma vez, em vez de um código, se perder a aplicação); anote-os agora, não voltam a ser mostrados:",
                [TEXT_CONTINUE] = "Prima Enter para continuar: ",
                [TEXT_MUST_ENROL] = "A sua organização exige autenticação de dois fatores: inicie sessão uma vez com a sua senha para a configurar.",
                [TEXT_HINT] = "Dica: proteja a sua conta com autenticação de dois fatores: nexalixctl 2fa enable",
        },
};

const char *login_text_get(const char *language, login_text t) {
        size_t l = 0;

        if (language && strcmp(language, "es") == 0)
                l = 1;
        else if (language && strcmp(language, "pt") == 0)
                l = 2;
        return t < _TEXT_MAX ? texts[l][t] : "";
}

void login_text_backed_off(const char *language, unsigned seconds, char *buf, size_t size) {
        /* The format comes from the table above, never from input. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(buf, size, login_text_get(language, TEXT_BACKED_OFF), seconds);
#pragma GCC diagnostic pop
}
