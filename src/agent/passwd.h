/* The home directory of a user in a container's /etc/passwd: runc sets HOME
 * from it when the process's env has none. */
#ifndef VEIL_AGENT_PASSWD_H
#define VEIL_AGENT_PASSWD_H

#include <stddef.h>
#include <stdint.h>

/* Pure: the home of uid in passwd text (len bytes, "name:pw:uid:gid:gecos:home:shell"
 * lines) into home; 0, or -1 if no well-formed line has that uid (home untouched). */
int agent_passwd_home(const char *text, size_t len, uint32_t uid, char *home, size_t size);
/* The same for /etc/passwd inside the root fd stands for; home is untouched
 * when the file or the entry is missing. */
void agent_passwd_home_in(int root, uint32_t uid, char *home, size_t size);

#endif
