#ifndef CANOPY_CSPAWN_H
#define CANOPY_CSPAWN_H

// glibc declares these only with _GNU_SOURCE, which Swift's Glibc module is not built with.
int canopy_pipe_cloexec(int fds[2]);
int canopy_spawn_close_from(void *actions, int lowest);

#endif
