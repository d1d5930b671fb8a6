//! PID 1 of one hardening/fuzz case (built as the cargo example `case-init`; never
//! installed). tests/common/case.rs starts it with fresh mount, PID, network, UTS and IPC
//! namespaces (`unshare(2)` before exec); it forks once to become PID 1 of the new PID
//! namespace and runs one program of the binary, once, in a world of its own:
//!   - / is an overlay of the host's root whose upper layer is on tmpfs: the program may
//!     write anywhere, the host never sees it, and every file it wrote or removed outside
//!     the scratch mounts is listed afterwards;
//!   - /tmp, /run and /dev are fresh tmpfs (no host socket, pid file or bus is reachable;
//!     /dev holds null, zero, full, random, urandom, tty), a fresh /proc, no network;
//!   - peers (Pacemaker's tools, the D-Bus system bus, HTTP on 127.0.0.1:8080) are absent,
//!     or stand-ins that hang, hang up or answer garbage.
//!
//! In-process (syscalls, no shell): a case costs milliseconds, so campaigns can be long.
//!
//!   case-init DIR
//! DIR/spec: `key=value` lines (stdout, stderr: file|full|closed|gone; peer:
//! none|hang|hangup|garbage; limit_ms; mem_bytes; fixtures: words; ocfbox: the binary);
//! DIR/argv: NUL-separated VAR=value... then the program name and its arguments;
//! DIR/stdin; DIR/setup (sh commands run in the case first, may be empty).
//! Results: DIR/stdout, DIR/stderr, DIR/result (`rc= elapsed_us= killed= maxrss_kb=`),
//! DIR/leftovers (processes alive after the program ended), DIR/written.

use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let dir = match std::env::args_os().nth(1) {
        Some(d) => PathBuf::from(d),
        None => fail(64, "usage: case-init DIR"),
    };
    // SAFETY: single-threaded here (just exec'ed); the child only runs our own code.
    match unsafe { libc::fork() } {
        -1 => fail(70, "fork"),
        0 => {
            // PID 1 goes (and the namespace with it) if the process that started it does.
            // SAFETY: a plain prctl.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            let code = match pid1(&dir) {
                Ok(()) => 0,
                Err(e) => {
                    let _ = fs::write(dir.join("error"), e);
                    71
                }
            };
            std::process::exit(code);
        }
        pid => {
            let mut status = 0;
            // SAFETY: waiting for our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            std::process::exit(if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                72
            });
        }
    }
}

fn fail(code: i32, msg: &str) -> ! {
    eprintln!("case-init: {msg}");
    std::process::exit(code)
}

fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap_or_default()
}

/// Where the case sees the ocfbox binary (a read-only bind of the host's).
const CASE_EXE: &str = "/run/ocfbox.exe";

fn mount(
    src: &str,
    target: &Path,
    fstype: &str,
    flags: libc::c_ulong,
    data: &str,
) -> Result<(), String> {
    let (s, t, f, d) = (
        CString::new(src).unwrap_or_default(),
        c(target),
        CString::new(fstype).unwrap_or_default(),
        CString::new(data).unwrap_or_default(),
    );
    // SAFETY: valid C strings for the duration of the call.
    let rc = unsafe {
        libc::mount(
            s.as_ptr(),
            t.as_ptr(),
            if fstype.is_empty() {
                std::ptr::null()
            } else {
                f.as_ptr()
            },
            flags,
            if data.is_empty() {
                std::ptr::null()
            } else {
                d.as_ptr().cast()
            },
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!(
            "mount {fstype} on {}: {}",
            target.display(),
            std::io::Error::last_os_error()
        ))
    }
}

struct Spec {
    stdout: String,
    stderr: String,
    peer: String,
    limit: Duration,
    mem_bytes: u64,
    fixtures: Vec<String>,
    ocfbox: PathBuf,
}

fn read_spec(dir: &Path) -> Result<Spec, String> {
    let text = fs::read_to_string(dir.join("spec")).map_err(|e| format!("spec: {e}"))?;
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .unwrap_or("")
            .to_string()
    };
    Ok(Spec {
        stdout: get("stdout"),
        stderr: get("stderr"),
        peer: get("peer"),
        limit: Duration::from_millis(get("limit_ms").parse().unwrap_or(30_000)),
        mem_bytes: get("mem_bytes").parse().unwrap_or(1 << 30),
        fixtures: get("fixtures")
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        ocfbox: PathBuf::from(get("ocfbox")),
    })
}

fn pid1(dir: &Path) -> Result<(), String> {
    let spec = read_spec(dir)?;
    mount("", Path::new("/"), "", libc::MS_REC | libc::MS_PRIVATE, "")?;
    let s = dir.join("s");
    fs::create_dir_all(&s).map_err(|e| format!("mkdir: {e}"))?;
    mount("tmpfs", &s, "tmpfs", 0, "mode=0755")?;
    let (upper, work, root) = (s.join("upper"), s.join("work"), s.join("root"));
    for d in [&upper, &work, &root] {
        fs::create_dir(d).map_err(|e| format!("mkdir: {e}"))?;
    }
    let opts = format!(
        "lowerdir=/,upperdir={},workdir={}",
        upper.display(),
        work.display()
    );
    mount("overlay", &root, "overlay", 0, &opts)?;
    mount("proc", &root.join("proc"), "proc", 0, "")?;
    mount("tmpfs", &root.join("tmp"), "tmpfs", 0, "mode=1777")?;
    mount("tmpfs", &root.join("run"), "tmpfs", 0, "mode=0755")?;
    let dev = root.join("dev");
    mount("tmpfs", &dev, "tmpfs", 0, "mode=0755")?;
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let p = c(&dev.join(name));
        // SAFETY: a valid path; makedev of constants.
        unsafe {
            libc::mknod(
                p.as_ptr(),
                libc::S_IFCHR | 0o666,
                libc::makedev(major, minor),
            );
            libc::chmod(p.as_ptr(), 0o666);
        }
    }
    let _ = symlink("/proc/self/fd", dev.join("fd"));
    for (i, n) in ["stdin", "stdout", "stderr"].iter().enumerate() {
        let _ = symlink(format!("/proc/self/fd/{i}"), dev.join(n));
    }
    // The binary may live under /tmp (a checkout there), which the case sees as a fresh
    // tmpfs: it is bound, read-only, into the case's /run, where the program's link points.
    let exe = root.join(CASE_EXE.trim_start_matches('/'));
    fs::write(&exe, b"").map_err(|e| format!("touch {}: {e}", exe.display()))?;
    mount(&spec.ocfbox.to_string_lossy(), &exe, "", libc::MS_BIND, "")?;
    mount(
        "",
        &exe,
        "",
        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
        "",
    )?;
    let tmp = root.join("tmp");
    for d in [
        dev.join("shm"),
        root.join("run/lock"),
        tmp.join("ocfbox-bin"),
        tmp.join("peer-bin"),
    ] {
        let _ = fs::create_dir_all(d);
    }
    for f in &spec.fixtures {
        match f.as_str() {
            "fifo-tmp" => {
                let p = c(&tmp.join("fifo"));
                // SAFETY: a valid path.
                unsafe { libc::mkfifo(p.as_ptr(), 0o666) };
            }
            "big-tmp" => {
                let _ = File::create(tmp.join("big")).and_then(|f| f.set_len(4 << 20));
            }
            "dir-tmp" => {
                let _ = fs::create_dir_all(tmp.join("dir"));
            }
            _ => {}
        }
    }

    let setup = fs::read(dir.join("setup")).unwrap_or_default();
    if !setup.is_empty() {
        let ok = Command::new("/bin/sh")
            .arg("-c")
            .arg(OsStr::from_bytes(&setup))
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .chroot_to(&root)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return Err("setup failed".into());
        }
    }

    let mut peer_pid = None;
    if spec.peer != "none" {
        let body = match spec.peer.as_str() {
            "hang" => "exec sleep 3600\n",
            "hangup" => "kill -KILL $$\n",
            _ => "head -c 3000 /dev/urandom\nhead -c 300 /dev/urandom >&2\nexit $(( $$ % 3 ))\n",
        };
        for tool in [
            "attrd_updater",
            "crm_node",
            "crm_attribute",
            "cibadmin",
            "crm_resource",
            "crm_mon",
            "stonith_admin",
        ] {
            let p = tmp.join("peer-bin").join(tool);
            let _ = fs::write(&p, format!("#!/bin/sh\n{body}"));
            let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o755));
        }
        loopback_up();
        let _ = fs::create_dir_all(root.join("run/dbus"));
        let bus = std::os::unix::net::UnixListener::bind(root.join("run/dbus/system_bus_socket"))
            .map_err(|e| format!("peer bus: {e}"))?;
        let http = std::net::TcpListener::bind("127.0.0.1:8080").ok();
        // SAFETY: single-threaded; the child only serves and never returns.
        match unsafe { libc::fork() } {
            -1 => return Err("fork peer".into()),
            0 => serve(&spec.peer, bus, http),
            pid => peer_pid = Some(pid as u32),
        }
    }

    // The program: environment and argv from DIR/argv.
    let argv = fs::read(dir.join("argv")).map_err(|e| format!("argv: {e}"))?;
    let mut items = argv.split(|b| *b == 0).filter(|i| !i.is_empty());
    let mut env: Vec<(OsString, OsString)> = Vec::new();
    let mut program = None;
    for item in items.by_ref() {
        match item.iter().position(|b| *b == b'=') {
            Some(eq) if program.is_none() && eq > 0 => env.push((
                OsStr::from_bytes(&item[..eq]).to_owned(),
                OsStr::from_bytes(&item[eq + 1..]).to_owned(),
            )),
            _ => {
                program = Some(OsStr::from_bytes(item).to_owned());
                break;
            }
        }
    }
    let program = program.ok_or("no program")?;
    let args: Vec<OsString> = items.map(|i| OsStr::from_bytes(i).to_owned()).collect();
    let name = Path::new(&program)
        .file_name()
        .unwrap_or(OsStr::new("x"))
        .to_owned();
    let link = tmp.join("ocfbox-bin").join(&name);
    symlink(CASE_EXE, &link).map_err(|e| format!("link: {e}"))?;

    let sink = |how: &str, file: &str| -> Result<Stdio, String> {
        Ok(match how {
            "full" => OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .map_err(|e| format!("/dev/full: {e}"))?
                .into(),
            "gone" => {
                let mut fds = [0; 2];
                // SAFETY: a fresh pipe; the read end is closed at once (a reader gone).
                unsafe {
                    libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC);
                    libc::close(fds[0]);
                    Stdio::from(
                        <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[1]),
                    )
                }
            }
            _ => File::create(dir.join(file))
                .map_err(|e| format!("{file}: {e}"))?
                .into(),
        })
    };
    let stdin = File::open(dir.join("stdin")).map_err(|e| format!("stdin: {e}"))?;
    let (close_out, close_err) = (spec.stdout == "closed", spec.stderr == "closed");
    let mem = spec.mem_bytes;
    let mut cmd = Command::new(&program);
    cmd.args(&args)
        .env_clear()
        .envs(env)
        .stdin(stdin)
        .stdout(sink(&spec.stdout, "stdout")?)
        .stderr(sink(&spec.stderr, "stderr")?)
        .process_group(0)
        .chroot_to(&root);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: mem,
                rlim_max: mem,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            if close_out {
                libc::close(1);
            }
            if close_err {
                libc::close(2);
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
    let (status, killed) = wait_limit(&mut child, spec.limit);
    let elapsed = started.elapsed();
    let rc = match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        _ => -1,
    };
    // SAFETY: reading our own resource usage.
    let maxrss = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru.ru_maxrss
    };

    // A process the program killed on its way out (its helper's group) may still be dying
    // (SIGKILL delivered, not yet a zombie) when the program is gone: seen alive for a few
    // microseconds, it is no leftover. Only what is still alive after a moment counts.
    let mut leftovers = alive_others(&root, peer_pid);
    if !leftovers.is_empty() {
        std::thread::sleep(Duration::from_millis(200));
        leftovers = alive_others(&root, peer_pid);
    }
    let mut written = String::new();
    walk(&upper, &upper, &mut written);
    let _ = fs::write(dir.join("leftovers"), leftovers);
    let _ = fs::write(dir.join("written"), written);
    let mut f = File::create(dir.join("result")).map_err(|e| format!("result: {e}"))?;
    let _ = writeln!(
        f,
        "rc={rc} elapsed_us={} killed={} maxrss_kb={maxrss}",
        elapsed.as_micros(),
        killed as u8
    );
    Ok(())
}

/// "PID comm" lines of every live process of the case but this one and the peer.
fn alive_others(root: &Path, peer_pid: Option<u32>) -> String {
    let mut out = String::new();
    let Ok(rd) = fs::read_dir(root.join("proc")) else {
        return out;
    };
    for e in rd.flatten() {
        let n = e.file_name();
        let Some(pid) = n.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == 1 || Some(pid) == peer_pid {
            continue;
        }
        let stat = fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().chars().next());
        if matches!(state, Some(Some('Z')) | None) {
            continue;
        }
        let comm = fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        out.push_str(&format!("{pid} {}\n", comm.trim_end()));
    }
    out
}

/// lo up (ioctl SIOCSIFFLAGS), so 127.0.0.1 is there to connect to.
fn loopback_up() {
    // SAFETY: a plain socket and two ioctls on a zeroed ifreq naming "lo".
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return;
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) == 0 {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
        }
        libc::close(fd);
    }
}

/// The misbehaving peer on the bus socket and on 127.0.0.1:8080: to every connection,
/// nothing (hang), a close (hangup), or random bytes (garbage), connections kept open.
/// Runs until the case's PID namespace ends.
fn serve(
    mode: &str,
    bus: std::os::unix::net::UnixListener,
    http: Option<std::net::TcpListener>,
) -> ! {
    let _ = bus.set_nonblocking(true);
    if let Some(h) = &http {
        let _ = h.set_nonblocking(true);
    }
    let mut kept: Vec<Box<dyn std::any::Any>> = Vec::new();
    let mut junk = [0u8; 2048];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ std::process::id() as u64;
    loop {
        let mut any = false;
        let mut answer = |w: &mut dyn Write, is_http: bool| {
            if mode == "garbage" {
                for b in junk.iter_mut() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    *b = x as u8;
                }
                if is_http {
                    let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n");
                }
                let _ = w.write_all(&junk);
            }
        };
        if let Ok((mut c, _)) = bus.accept() {
            any = true;
            answer(&mut c, false);
            if mode != "hangup" {
                kept.push(Box::new(c));
            }
        }
        if let Some(Ok((mut c, _))) = http.as_ref().map(|h| h.accept()) {
            any = true;
            answer(&mut c, true);
            if mode != "hangup" {
                kept.push(Box::new(c));
            }
        }
        if !any {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Wait for the program; at `limit`, SIGKILL its process group (before reaping it).
fn wait_limit(child: &mut Child, limit: Duration) -> (std::process::ExitStatus, bool) {
    let until = Instant::now() + limit;
    let pid = child.id() as i32;
    let mut nap = Duration::from_micros(200);
    loop {
        // SAFETY: waitid on our own child, without reaping it.
        let exited = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT | libc::WNOHANG,
            ) == 0
                && info.si_pid() != 0
        };
        if exited {
            break;
        }
        if Instant::now() >= until {
            // SAFETY: the group of our unreaped child.
            unsafe { libc::killpg(pid, libc::SIGKILL) };
            let status = child
                .wait()
                .unwrap_or(std::process::ExitStatus::from_raw(0x9));
            return (status, true);
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(5));
    }
    let status = child
        .wait()
        .unwrap_or(std::process::ExitStatus::from_raw(0x9));
    (status, false)
}

/// Every file, and every empty directory, under the overlay's upper layer: what the
/// program wrote (or removed: whiteouts) outside the scratch mounts.
fn walk(base: &Path, dir: &Path, out: &mut String) {
    let Ok(rd) = fs::read_dir(dir) else {
        return;
    };
    let mut empty = true;
    for e in rd.flatten() {
        empty = false;
        let p = e.path();
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir {
            walk(base, &p, out);
        } else if let Ok(rel) = p.strip_prefix(base) {
            out.push_str(&format!("/{}\n", rel.display()));
        }
    }
    if empty && dir != base {
        if let Ok(rel) = dir.strip_prefix(base) {
            out.push_str(&format!("/{}\n", rel.display()));
        }
    }
}

/// `Command` that chroots into `root` (and starts in /tmp) before exec.
trait ChrootTo {
    fn chroot_to(&mut self, root: &Path) -> &mut Self;
}

impl ChrootTo for Command {
    fn chroot_to(&mut self, root: &Path) -> &mut Self {
        let root = c(root);
        // SAFETY: chroot and chdir are async-signal-safe; the CString outlives the fork.
        unsafe {
            self.pre_exec(move || {
                if libc::chroot(root.as_ptr()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::chdir(c"/tmp".as_ptr());
                Ok(())
            })
        }
    }
}
