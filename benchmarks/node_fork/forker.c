/* A Node addon for benchmarks/node_fork/measure.js: fork a running Node process so that the
 * child can run a program without paying Node's start.  Measurement only; xpl's runner does
 * not use it (benchmarks/RESULTS.md, "What is left", JavaScript).
 *
 * Three things make a forked Node child work at all (Node 20, V8 11.3):
 *  - V8 marks its heap mappings MADV_DONTFORK, so a child would fault on its first bytecode;
 *    every mapping is marked MADV_DOFORK again just before fork (errors ignored: mappings
 *    madvise refuses are not V8's heap);
 *  - the child re-creates libuv's event loop state (epoll and signal pipes are shared with the
 *    parent otherwise): uv_loop_fork;
 *  - the child never runs Node's teardown, which joins platform worker threads the child does
 *    not have (it crashes in pthread_join): measure.js ends it with exit(), that is _exit(2),
 *    once the 'exit' event has run.  Node is started with --single-threaded so that V8 posts
 *    no background task to those threads either. */
#include <node_api.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

static void mark_all_forkable(void) {
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    unsigned long start, end;
    if (!maps) return;
    while (fgets(line, sizeof line, maps))
        if (sscanf(line, "%lx-%lx", &start, &end) == 2) madvise((void *)start, end - start, MADV_DOFORK);
    fclose(maps);
}

static int int_arg(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    int value = 0;
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    if (argc >= 1) napi_get_value_int32(env, argv[0], &value);
    return value;
}

static napi_value int_value(napi_env env, int value) {
    napi_value result;
    napi_create_int32(env, value, &result);
    return result;
}

static napi_value do_fork(napi_env env, napi_callback_info info) {
    mark_all_forkable();
    pid_t pid = fork();
    if (pid == 0) uv_loop_fork(uv_default_loop());
    return int_value(env, (int)pid);
}

static napi_value do_wait(napi_env env, napi_callback_info info) {
    int status = 0;
    waitpid((pid_t)int_arg(env, info), &status, 0);
    return int_value(env, status);
}

static napi_value do_exit(napi_env env, napi_callback_info info) {
    _exit(int_arg(env, info));
}

static void export(napi_env env, napi_value exports, const char *name, napi_callback fn) {
    napi_value f;
    napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);
    napi_set_named_property(env, exports, name, f);
}

NAPI_MODULE_INIT() {
    export(env, exports, "fork", do_fork);
    export(env, exports, "wait", do_wait);
    export(env, exports, "exit", do_exit);
    return exports;
}
