//! `/proc/self/mountinfo` (proc(5)): which FUSE file systems are mounted under the data root.
//!
//! A line is `id parent major:minor root mount-point options [optional fields...] - fstype
//! source super-options`; the paths escape space, tab, newline and backslash as octal
//! (`\040`, `\011`, `\012`, `\134`).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

/// One mount, as far as the agent cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Where it is mounted (unescaped).
    pub mount_point: PathBuf,
    /// The file system type, e.g. `fuse` (Mountpoint for Amazon S3) or `ext4`.
    pub fstype: String,
    /// The source, e.g. `mountpoint-s3`.
    pub source: String,
}

/// Parses one line; `None` for a line that does not have the fields proc(5) describes.
pub fn parse_line(line: &str) -> Option<MountEntry> {
    let fields: Vec<&str> = line.split(' ').collect();
    // Four fields before the mount point, then options; the optional fields end at "-".
    let separator = fields.iter().skip(6).position(|f| *f == "-")? + 6;
    let mount_point = fields.get(4)?;
    let fstype = fields.get(separator + 1)?;
    let source = fields.get(separator + 2)?;
    if !mount_point.starts_with('/') {
        return None;
    }
    Some(MountEntry {
        mount_point: PathBuf::from(unescape(mount_point)),
        fstype: unescape(fstype),
        source: unescape(source),
    })
}

/// Undoes the kernel's octal escapes (`\ooo`); anything else is kept as is.
pub fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal =
            bytes.get(i + 1..i + 4).filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(digits) => {
                let value = digits.iter().fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// True for FUSE file systems (`fuse`, `fuse.<subtype>`, `fuseblk`).
pub fn is_fuse(fstype: &str) -> bool {
    fstype == "fuse" || fstype == "fuseblk" || fstype.starts_with("fuse.")
}

/// The mount points of the FUSE file systems strictly under `root`, each once, sorted.
pub fn fuse_mounts_under(mountinfo: &str, root: &Path) -> Vec<PathBuf> {
    let points: BTreeSet<PathBuf> = mountinfo
        .lines()
        .filter_map(parse_line)
        .filter(|entry| is_fuse(&entry.fstype))
        .map(|entry| entry.mount_point)
        .filter(|point| point.starts_with(root) && point != root)
        .collect();
    points.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 259:1 / / rw,noatime shared:1 - xfs /dev/nvme0n1p1 rw,attr2,inode64
25 22 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
61 22 0:45 / /data/oncology rw,nosuid,nodev,noatime shared:30 - fuse mountpoint-s3 rw,user_id=0,group_id=0,default_permissions,allow_other
62 22 0:46 / /data/with\\040space rw,nosuid,nodev,noatime - fuse mountpoint-s3 rw,user_id=0,group_id=0
63 22 0:47 / /data/cardio ro,nosuid,nodev master:3 propagate_from:2 - fuse.sshfs host:/x rw
64 22 259:3 / /data/scratch rw - ext4 /dev/nvme1n1 rw
65 22 0:48 / /database/x rw - fuse mountpoint-s3 rw
66 22 0:49 / /data rw - fuse mountpoint-s3 rw
67 61 0:50 / /data/oncology rw - fuse mountpoint-s3 rw
";

    #[test]
    fn lines_are_parsed_with_their_optional_fields() {
        let entry = parse_line(MOUNTINFO.lines().nth(4).unwrap()).unwrap();
        assert_eq!(entry.mount_point, PathBuf::from("/data/cardio"));
        assert_eq!(entry.fstype, "fuse.sshfs");
        assert_eq!(entry.source, "host:/x");
        let entry = parse_line(MOUNTINFO.lines().nth(2).unwrap()).unwrap();
        assert_eq!((entry.fstype.as_str(), entry.source.as_str()), ("fuse", "mountpoint-s3"));
        assert_eq!(parse_line("garbage"), None);
        assert_eq!(parse_line(""), None);
        assert_eq!(parse_line("1 2 3:4 / /x rw shared:1"), None, "no separator");
    }

    #[test]
    fn escaped_paths_are_unescaped() {
        assert_eq!(unescape(r"/data/with\040space"), "/data/with space");
        assert_eq!(unescape(r"/a\011b\012c\134d"), "/a\tb\nc\\d");
        assert_eq!(unescape(r"/no\escape\04"), r"/no\escape\04");
    }

    #[test]
    fn only_fuse_mounts_strictly_under_the_root_count() {
        let mounts = fuse_mounts_under(MOUNTINFO, Path::new("/data"));
        let expected: Vec<PathBuf> =
            ["/data/cardio", "/data/oncology", "/data/with space"].iter().map(PathBuf::from).collect();
        assert_eq!(mounts, expected, "not ext4, not /database, not /data itself, stacked mounts once");
    }
}
