#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "engine/error.h"

namespace ml {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Writes all of [p, p + n), retrying short writes and signal interruptions.
// Returns 0 or the errno of the failure.
int write_all(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

// The folder holding `path` ("." for a bare file name).
std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

void write_file_atomic(const std::string& path, const std::vector<std::span<const uint8_t>>& parts) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  // 0666 filtered by the umask: the permissions any ordinary new file would get.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    const int err = errno;
    throw Error(detail::cat("write_file_atomic: cannot create '", tmp, "' to write '", path, "': ", errno_text(err)));
  }
  // Removes the temporary and reports; `fd` is closed by the caller or already closed.
  auto fail = [&](const char* step, int err) {
    ::unlink(tmp.c_str());
    throw Error(detail::cat("write_file_atomic: ", step, " failed while writing '", path, "': ", errno_text(err)));
  };
  for (const auto& part : parts) {
    if (const int err = write_all(fd, part.data(), part.size())) {
      ::close(fd);
      fail("write", err);
    }
  }
  // fsync before rename: otherwise the rename can reach the disk before the data does,
  // and a power cut leaves an empty or partial file under the final name.
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail("fsync", err);
  }
  if (::close(fd) != 0) fail("close", errno);  // NFS reports deferred write errors here
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename", errno);
  // Best effort: fsync the folder so that the rename itself is durable. Some file
  // systems refuse to fsync a directory; the file is already complete either way.
  const int dir = ::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes) {
  write_file_atomic(path, std::vector<std::span<const uint8_t>>{bytes});
}

void write_text_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::vector<uint8_t> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw Error(detail::cat("read_file: cannot open '", path, "': ", errno_text(err)));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw Error(detail::cat("read_file: '", path, "' is a directory"));
  }
  // st_size is only a hint (a /proc file reports 0, a file may grow): read until end of
  // file. Reading into a small buffer once the expected size is reached avoids doubling a
  // large allocation just to see the end of the file.
  std::vector<uint8_t> bytes(st.st_size > 0 ? static_cast<size_t>(st.st_size) : 0);
  size_t used = 0;
  uint8_t more[65536];
  for (;;) {
    const bool in_place = used < bytes.size();
    const ssize_t r = in_place ? ::read(fd, bytes.data() + used, bytes.size() - used) : ::read(fd, more, sizeof more);
    if (r < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw Error(detail::cat("read_file: cannot read '", path, "': ", errno_text(err)));
    }
    if (r == 0) break;
    if (!in_place) bytes.insert(bytes.end(), more, more + r);
    used += static_cast<size_t>(r);
  }
  ::close(fd);
  bytes.resize(used);
  return bytes;
}

}  // namespace ml
