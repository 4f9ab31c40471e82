//! The production [`Mounter`]: Mountpoint for Amazon S3 (`mount-s3`), `umount`, and
//! `/proc/self/mountinfo`. It acts only on directories directly under its data root whose
//! name is a dataset id, and refuses any other path.

use std::{
    ffi::OsString,
    io::ErrorKind,
    os::unix::fs::{DirBuilderExt, PermissionsExt},
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use async_trait::async_trait;

use super::{MountError, Mounter, mountinfo};
use crate::dataset::{DatasetId, Location};

/// How long one mount or unmount command may take. `mount-s3` itself waits up to 30 s for
/// its background process to report the mount before it gives up.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Mounts with `mount-s3 <bucket> <root>/<id> --prefix=<prefix> --read-only --allow-other`
/// (it forks a background process that serves the file system and exits once the mount
/// is up), unmounts with `umount <root>/<id>`.
#[derive(Debug, Clone)]
pub struct MountS3 {
    data_root: PathBuf,
    mount_command: String,
    unmount_command: String,
    mountinfo: PathBuf,
}

impl MountS3 {
    /// Mounts under `data_root` with `mount_command` (`mount-s3`, or a path to it).
    pub fn new(data_root: impl Into<PathBuf>, mount_command: impl Into<String>) -> Self {
        Self {
            data_root: data_root.into(),
            mount_command: mount_command.into(),
            unmount_command: "umount".to_owned(),
            mountinfo: PathBuf::from("/proc/self/mountinfo"),
        }
    }

    /// Unmounts with `command <path>` instead of `umount <path>` (e.g. `fusermount3 -u`
    /// wrapped in a script, or a recorder in tests).
    pub fn with_unmount_command(mut self, command: impl Into<String>) -> Self {
        self.unmount_command = command.into();
        self
    }

    /// Reads the mount table from `path` instead of `/proc/self/mountinfo` (tests).
    pub fn with_mountinfo(mut self, path: impl Into<PathBuf>) -> Self {
        self.mountinfo = path.into();
        self
    }

    /// The arguments given to the mount command. The prefix is passed as `--prefix=<p>`, one
    /// argument, so that a prefix starting with `-` cannot be read as an option; the bucket
    /// never starts with `-` ([`Location::parse`]) and the path is absolute.
    pub fn mount_args(location: &Location, path: &Path) -> Vec<OsString> {
        vec![
            location.bucket().into(),
            path.as_os_str().to_owned(),
            format!("--prefix={}", location.prefix()).into(),
            "--read-only".into(),
            "--allow-other".into(),
        ]
    }

    /// `Ok` only for `<data root>/<dataset id>`.
    pub fn check_path(&self, path: &Path) -> Result<(), MountError> {
        let named_like_a_dataset =
            path.file_name().and_then(|n| n.to_str()).is_some_and(|name| DatasetId::parse(name).is_ok());
        if path.parent() == Some(self.data_root.as_path()) && named_like_a_dataset {
            Ok(())
        } else {
            Err(MountError::Refused { path: path.to_owned(), root: self.data_root.clone() })
        }
    }

    /// Creates `path` (0755, its root too) unless it is already a real directory; refuses a
    /// symbolic link or a file in its place.
    fn prepare_directory(&self, path: &Path) -> Result<(), MountError> {
        let io = |e: std::io::Error| MountError::Io { path: path.to_owned(), message: e.to_string() };
        std::fs::DirBuilder::new().recursive(true).mode(0o755).create(&self.data_root).map_err(io)?;
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(MountError::Io { path: path.to_owned(), message: "exists and is not a directory".into() }),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                std::fs::DirBuilder::new().mode(0o755).create(path).map_err(io)?;
                // The mode given to mkdir is reduced by the umask: set it exactly.
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(io)
            }
            Err(e) => Err(io(e)),
        }
    }
}

/// Removes `path` if it is an empty directory; anything else is left as it is.
fn remove_empty_directory(path: &Path) {
    match std::fs::remove_dir(path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "mount directory left in place"),
    }
}

/// Runs `program args…` with no input, and fails with its standard error unless it exits 0
/// within [`COMMAND_TIMEOUT`].
async fn run(program: &str, args: &[OsString]) -> Result<(), MountError> {
    let command_line = || {
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        format!("{program} {}", args.join(" "))
    };
    let failed = |message: String| MountError::Command { command: command_line(), message };
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("could not start: {e}")))?;
    let output = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| failed(format!("did not finish within {} s", COMMAND_TIMEOUT.as_secs())))?
        .map_err(|e| failed(e.to_string()))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stderr = stderr.trim();
    // The end of a long message says why (mount-s3 prints its cause chain last).
    let tail: String = stderr.chars().rev().take(500).collect::<Vec<_>>().into_iter().rev().collect();
    Err(failed(format!("{}: {tail}", output.status)))
}

#[async_trait]
impl Mounter for MountS3 {
    async fn mounted(&self) -> Result<Vec<PathBuf>, MountError> {
        let table = std::fs::read_to_string(&self.mountinfo)
            .map_err(|e| MountError::Io { path: self.mountinfo.clone(), message: e.to_string() })?;
        Ok(mountinfo::fuse_mounts_under(&table, &self.data_root))
    }

    async fn mount(&self, _dataset: &DatasetId, location: &Location, path: &Path) -> Result<(), MountError> {
        self.check_path(path)?;
        self.prepare_directory(path)?;
        let result = run(&self.mount_command, &Self::mount_args(location, path)).await;
        if result.is_err() {
            remove_empty_directory(path);
        }
        result
    }

    async fn unmount(&self, path: &Path) -> Result<(), MountError> {
        self.check_path(path)?;
        run(&self.unmount_command, &[path.as_os_str().to_owned()]).await?;
        remove_empty_directory(path);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    /// A directory of its own under the system's temporary directory, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("atelier-agent-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
        /// An executable shell script that appends its arguments to `<scratch>/calls` and
        /// exits with `status`.
        fn recorder(&self, name: &str, status: u8) -> String {
            let path = self.0.join(name);
            let calls = self.0.join("calls");
            let script = format!(
                "#!/bin/sh\necho \"{name} $*\" >> '{}'\necho 'no such bucket' >&2\nexit {status}\n",
                calls.display()
            );
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            path.display().to_string()
        }
        fn calls(&self) -> String {
            std::fs::read_to_string(self.0.join("calls")).unwrap_or_default()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn id(value: &str) -> DatasetId {
        DatasetId::parse(value).unwrap()
    }

    #[test]
    fn the_command_line_mounts_a_prefix_read_only_for_everyone() {
        let location = Location::parse("s3://lake-a/-raw/2024/").unwrap();
        let args = MountS3::mount_args(&location, Path::new("/data/oncology"));
        let args: Vec<&str> = args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(args, ["lake-a", "/data/oncology", "--prefix=-raw/2024/", "--read-only", "--allow-other"]);
    }

    #[test]
    fn only_dataset_directories_directly_under_the_root_are_accepted() {
        let mounter = MountS3::new("/data", "mount-s3");
        assert!(mounter.check_path(Path::new("/data/oncology")).is_ok());
        for refused in [
            "/data",
            "/",
            "/etc",
            "/data/../etc",
            "/data/onc/logy",
            "/data/.",
            "/data/..",
            "/database/abc",
            "/data/Bad",
        ] {
            let error = mounter.check_path(Path::new(refused)).unwrap_err();
            assert!(matches!(error, MountError::Refused { .. }), "{refused}");
            assert!(error.to_string().contains("refused"), "{error}");
        }
    }

    #[tokio::test]
    async fn mounting_creates_the_directory_and_runs_the_command() {
        let scratch = Scratch::new("mount");
        let root = scratch.0.join("data");
        let mounter = MountS3::new(&root, scratch.recorder("mount-s3", 0));
        let path = root.join("oncology");
        let location = Location::parse("s3://lake-a/oncology/").unwrap();
        mounter.mount(&id("oncology"), &location, &path).await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
        assert_eq!(
            scratch.calls(),
            format!("mount-s3 lake-a {} --prefix=oncology/ --read-only --allow-other\n", path.display())
        );
    }

    #[tokio::test]
    async fn a_failed_mount_says_why_and_leaves_no_directory() {
        let scratch = Scratch::new("failed");
        let root = scratch.0.join("data");
        let mounter = MountS3::new(&root, scratch.recorder("mount-s3", 3));
        let path = root.join("oncology");
        let location = Location::parse("s3://lake-a/oncology/").unwrap();
        let error = mounter.mount(&id("oncology"), &location, &path).await.unwrap_err().to_string();
        assert!(error.contains("no such bucket") && error.contains("exit status: 3"), "{error}");
        assert!(!path.exists());
        let missing = MountS3::new(&root, scratch.0.join("absent").display().to_string());
        let error = missing.mount(&id("oncology"), &location, &path).await.unwrap_err().to_string();
        assert!(error.contains("could not start"), "{error}");
    }

    #[tokio::test]
    async fn a_symbolic_link_in_place_of_the_directory_is_refused() {
        let scratch = Scratch::new("symlink");
        let root = scratch.0.join("data");
        std::fs::create_dir_all(&root).unwrap();
        symlink("/etc", root.join("oncology")).unwrap();
        let mounter = MountS3::new(&root, scratch.recorder("mount-s3", 0));
        let location = Location::parse("s3://lake-a/oncology/").unwrap();
        let error = mounter.mount(&id("oncology"), &location, &root.join("oncology")).await.unwrap_err();
        assert!(error.to_string().contains("not a directory"), "{error}");
        assert_eq!(scratch.calls(), "", "the command never ran");
    }

    #[tokio::test]
    async fn unmounting_runs_umount_and_removes_the_empty_directory() {
        let scratch = Scratch::new("unmount");
        let root = scratch.0.join("data");
        let path = root.join("oncology");
        std::fs::create_dir_all(&path).unwrap();
        let mounter = MountS3::new(&root, "mount-s3").with_unmount_command(scratch.recorder("umount", 0));
        mounter.unmount(&path).await.unwrap();
        assert_eq!(scratch.calls(), format!("umount {}\n", path.display()));
        assert!(!path.exists());
        let error = mounter.unmount(Path::new("/etc")).await.unwrap_err();
        assert!(matches!(error, MountError::Refused { .. }));
    }

    #[tokio::test]
    async fn mounts_are_listed_from_the_mount_table() {
        let scratch = Scratch::new("mountinfo");
        let table = scratch.0.join("mountinfo");
        std::fs::write(
            &table,
            "61 22 0:45 / /data/oncology rw,nosuid - fuse mountpoint-s3 rw\n64 22 259:3 / /data/scratch rw - ext4 /dev/x rw\n",
        )
        .unwrap();
        let mounter = MountS3::new("/data", "mount-s3").with_mountinfo(&table);
        assert_eq!(mounter.mounted().await.unwrap(), [PathBuf::from("/data/oncology")]);
        let unreadable = MountS3::new("/data", "mount-s3").with_mountinfo(scratch.0.join("absent"));
        assert!(unreadable.mounted().await.is_err());
    }
}
