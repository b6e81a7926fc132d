/* The seccomp filter of every process in a rig (PID 1 and each exec), in the spirit of Docker's
 * default profile but as a deny-list: everything is allowed except what reaches beyond the rig's
 * own namespaces or widens the kernel's attack surface. Denied calls fail with EPERM; clone3
 * fails with ENOSYS because its flags sit in memory a filter cannot read (libc then falls back to
 * clone, whose flags are checked). Calls of a foreign ABI that the filter does not cover kill
 * the process.
 *
 * ptrace, process_vm_readv/writev stay allowed: every process a rig can name lives in the rig's
 * PID namespace, runs under the rig's user namespace, and the kernel's ptrace access check
 * (same uid or CAP_SYS_PTRACE in the target's user namespace, and a dumpable target) keeps them
 * to the rig's own processes. The only foreign processes that ever appear in that PID namespace
 * are the shim's exec children between fork and execve; they make themselves non-dumpable first
 * thing, so no rig process can attach to them (see exec.c). seccomp is re-checked after a
 * tracer changes a syscall (Linux >= 4.8), so tracing cannot bypass this filter. strace and gdb
 * work in a rig. */
#include "shim/shim.h"

#include <linux/audit.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const char *const denied[] = {
    /* kernel code and kernel-wide state */
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "bpf",
    "perf_event_open",
    "lookup_dcookie",
    "iopl",
    "ioperm",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "vhangup",
    "nfsservctl",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "vm86",
    "vm86old",
    /* the clock is the host's */
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "stime",
    /* keyrings are not namespaced */
    "keyctl",
    "add_key",
    "request_key",
    /* a large, often exploited surface */
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    /* file handles bypass the mount tree */
    "open_by_handle_at",
    "name_to_handle_at",
    /* no new mounts from inside: the rig's tree is fixed at start */
    "mount",
    "umount",
    "umount2",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "open_tree",
    "mount_setattr",
    "pivot_root",
    /* no other namespaces (unshare and clone below: only their namespace flags) */
    "setns",
    "kcmp",
};

static const uint64_t ns_flags[] = {
    CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,    CLONE_NEWUSER,
    CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP,
};

static int add_rules(scmp_filter_ctx ctx)
{
        for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
                int nr = seccomp_syscall_resolve_name(denied[i]);
                if (nr == __NR_SCMP_ERROR)
                        continue; /* not a syscall libseccomp knows on any of our ABIs */
                int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
                if (r < 0)
                        return r;
        }
        int clone_nr = seccomp_syscall_resolve_name("clone");
        int unshare_nr = seccomp_syscall_resolve_name("unshare");
        for (size_t i = 0; i < ARRAY_SIZE(ns_flags); i++) {
                uint64_t f = ns_flags[i];
                int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), clone_nr, 1,
                                         SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
                if (r >= 0)
                        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), unshare_nr, 1,
                                             SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
                if (r < 0)
                        return r;
        }
        /* For clone, 0x80 is part of the exit signal; only unshare takes CLONE_NEWTIME. */
        int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), unshare_nr, 1,
                                 SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWTIME, CLONE_NEWTIME));
        if (r < 0)
                return r;
        int clone3_nr = seccomp_syscall_resolve_name("clone3");
        if (clone3_nr != __NR_SCMP_ERROR)
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), clone3_nr, 0);
        return r;
}

/* Exports a libseccomp filter as a classic BPF program (malloc'd). */
static int export_bpf(scmp_filter_ctx ctx, struct sock_fprog *out)
{
        _cleanup_close_ int fd = memfd_create("rig-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return r;
        off_t size = lseek(fd, 0, SEEK_END);
        if (size <= 0 || size % sizeof(struct sock_filter) || size > 65536)
                return -EIO;
        struct sock_filter *f = xmalloc((size_t)size);
        if (pread(fd, f, (size_t)size, 0) != size) {
                free(f);
                return -EIO;
        }
        out->filter = f;
        out->len = (unsigned short)(size / sizeof(struct sock_filter));
        return 0;
}

/* 32-bit and x32 syscalls from a 64-bit process get the same rules. */
static int add_arches(scmp_filter_ctx ctx)
{
#if defined(__x86_64__)
        int r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
        if (r >= 0 || r == -EEXIST)
                r = seccomp_arch_add(ctx, SCMP_ARCH_X32);
        return r == -EEXIST ? 0 : r;
#else
        (void)ctx;
        return 0;
#endif
}

static int build_main(struct sock_fprog *out)
{
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return -ENOMEM;
        /* The rig filter is applied by hand (filter_apply) with no_new_privs set there. */
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        int r = add_arches(ctx);
        if (r >= 0)
                r = add_rules(ctx);
        if (r >= 0)
                r = export_bpf(ctx, out);
        seccomp_release(ctx);
        return r;
}

/* personality(2) with PER_LINUX, PER_LINUX32, UNAME26 (and their combination) or the query
 * 0xffffffff only, as in Docker's profile: no ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC & co. The
 * kernel reads the argument as a 32-bit int, so only the low word is compared. */
#define PERSONA_DENY (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
#define ARG0_LO      offsetof(struct seccomp_data, args[0])
#define STMT(c, k)   ((struct sock_filter)BPF_STMT(c, k))
#define JEQ(k, t, f) ((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, t, f))

static int build_persona(struct sock_fprog *out)
{
#if defined(__x86_64__)
        const uint32_t arch = AUDIT_ARCH_X86_64, nr = __NR_personality;
        const uint32_t arch32 = AUDIT_ARCH_I386, nr32 = 136, nr_x32 = 0x40000000 | nr;
#else
        const uint32_t arch = (uint32_t)seccomp_arch_native(), nr = __NR_personality;
        const uint32_t arch32 = arch, nr32 = nr, nr_x32 = nr;
#endif
        const struct sock_filter prog[] = {
            /* 0 */ STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
            /* 1 */ JEQ(arch, 0, 4),
            /* 2 */ STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            /* 3 */ JEQ(nr, 6, 0),
            /* 4 */ JEQ(nr_x32, 5, 0),
            /* 5 */ STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            /* 6 */ JEQ(arch32, 0, 2),
            /* 7 */ STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            /* 8 */ JEQ(nr32, 1, 0),
            /* 9 */ STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            /* 10 */ STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO),
            /* 11 */ JEQ(0x0, 5, 0),
            /* 12 */ JEQ(0x8, 4, 0),
            /* 13 */ JEQ(0x20000, 3, 0),
            /* 14 */ JEQ(0x20008, 2, 0),
            /* 15 */ JEQ(0xffffffff, 1, 0),
            /* 16 */ STMT(BPF_RET | BPF_K, PERSONA_DENY),
            /* 17 */ STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        out->filter = xmalloc(sizeof(prog));
        memcpy(out->filter, prog, sizeof(prog));
        out->len = ARRAY_SIZE(prog);
        return 0;
}

int filter_build(struct rig_filter *f)
{
        memset(f, 0, sizeof(*f));
        int r = build_main(&f->main);
        if (r < 0)
                return r;
        return build_persona(&f->persona);
}

int filter_apply(const struct rig_filter *f)
{
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &f->persona) < 0)
                return -errno;
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &f->main) < 0)
                return -errno;
        return 0;
}
