#include "scmoe/profiler/formats/atomic_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "scmoe/profiler/huge_pages.h"

namespace scmoe::prof::formats {

namespace {
constexpr std::size_t kBufferSize = 1 << 20;

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace

AtomicFileWriter::~AtomicFileWriter() { discard(); }

std::string AtomicFileWriter::open(const std::string& path) {
  discard();
  path_ = path;
  error_.clear();
  std::vector<char> name(path.begin(), path.end());
  const std::string suffix = ".tmp.XXXXXX";
  name.insert(name.end(), suffix.begin(), suffix.end());
  name.push_back('\0');
  fd_ = ::mkstemp(name.data());
  if (fd_ < 0) {
    error_ = errno_text("cannot create a temporary file for", path);
    return error_;
  }
  temp_path_ = name.data();
  // mkstemp creates 0600; a trace or CSV should get the usual permissions (umask applies).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd_, 0666 & ~mask);
  buffer_.reserve(kBufferSize);
  return "";
}

void AtomicFileWriter::write(std::string_view data) {
  if (!error_.empty() || fd_ < 0) return;
  if (buffer_.size() + data.size() > kBufferSize) flush();
  if (data.size() >= kBufferSize) {
    // Large blocks go straight through.
    const char* p = data.data();
    std::size_t left = data.size();
    while (left > 0 && error_.empty()) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        error_ = errno_text("cannot write", temp_path_);
        return;
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    return;
  }
  buffer_.append(data);
}

void AtomicFileWriter::flush() {
  const char* p = buffer_.data();
  std::size_t left = buffer_.size();
  while (left > 0 && error_.empty()) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = errno_text("cannot write", temp_path_);
      break;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  buffer_.clear();
}

std::string AtomicFileWriter::commit() {
  if (fd_ < 0 && error_.empty()) error_ = "internal: commit() without open()";
  if (error_.empty()) flush();
  if (error_.empty() && ::fsync(fd_) != 0) error_ = errno_text("cannot fsync", temp_path_);
  if (fd_ >= 0 && ::close(fd_) != 0 && error_.empty()) error_ = errno_text("cannot close", temp_path_);
  fd_ = -1;
  if (error_.empty() && ::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    error_ = errno_text("cannot rename the temporary file over", path_);
  }
  if (!error_.empty()) {
    discard();
    return error_;
  }
  temp_path_.clear();
  // The rename is durable only once the directory entry is on disk.
  const int dir = ::open(directory_of(path_).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return "";
}

void AtomicFileWriter::discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  temp_path_.clear();
  buffer_.clear();
}

std::string write_file_atomically(const std::string& path, std::string_view data) {
  AtomicFileWriter out;
  if (std::string err = out.open(path); !err.empty()) return err;
  out.write(data);
  return out.commit();
}

std::string read_file(const std::string& path, std::string& out, std::size_t spare_capacity) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return errno_text("cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string err = errno_text("cannot stat", path);
    ::close(fd);
    return err;
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return path + ": is a directory";
  }
  out.clear();
  out.reserve(static_cast<std::size_t>(st.st_size) + spare_capacity);
  advise_huge_pages(out.data(), out.capacity());
#ifdef MADV_POPULATE_WRITE
  // Fault the buffer in with one call instead of a trap per page (each one is expensive on VMs); the
  // zero fill of resize() below and the read then touch present pages. Linux 5.14+; else a no-op.
  {
    constexpr std::uintptr_t kPage = 4096;
    const auto begin = (reinterpret_cast<std::uintptr_t>(out.data()) + kPage - 1) & ~(kPage - 1);
    const auto end = (reinterpret_cast<std::uintptr_t>(out.data()) + out.capacity()) & ~(kPage - 1);
    if (end > begin + 16 * kPage) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
  }
#endif
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  char probe[4096];
  while (true) {
    // Once the size fstat reported is read, probe with a small buffer for files that grow or /proc-like
    // sizes: growing `out` here would reallocate and copy the whole file into pages not yet faulted in.
    const bool full = got == out.size();
    const ssize_t n = full ? ::read(fd, probe, sizeof probe) : ::read(fd, out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string err = errno_text("cannot read", path);
      ::close(fd);
      return err;
    }
    if (n == 0) break;
    if (full) out.append(probe, static_cast<std::size_t>(n));
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  if (out.capacity() < got + spare_capacity) out.reserve(got + spare_capacity);
  ::close(fd);
  return "";
}

}  // namespace scmoe::prof::formats
