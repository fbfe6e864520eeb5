// Writing a file so that readers only ever see the old file or the complete new one: data goes to a
// temporary file in the same directory, which is fsynced and renamed over the target on commit(). If the
// writer is destroyed without commit() (an error, an exception), the temporary file is removed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace scmoe::prof::formats {

class AtomicFileWriter {
 public:
  AtomicFileWriter() = default;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  // Creates the temporary file beside `path`. Returns "" or an error.
  std::string open(const std::string& path);
  // Buffered; the first error is remembered and returned by commit().
  void write(std::string_view data);
  void write(const void* data, std::size_t size) { write(std::string_view(static_cast<const char*>(data), size)); }
  // Flushes, fsyncs, renames over the target and fsyncs the directory. Returns "" or an error (then the
  // target is untouched and the temporary file removed).
  std::string commit();
  bool ok() const { return error_.empty(); }

 private:
  void flush();
  void discard();

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  std::string buffer_;
  std::string error_;
};

// Writes `data` to `path` atomically. Returns "" or an error.
std::string write_file_atomically(const std::string& path, std::string_view data);

// Reads a whole file; `out` gets at least `spare_capacity` bytes of capacity past the data (simdjson needs
// padding). Returns "" or an error naming the file.
std::string read_file(const std::string& path, std::string& out, std::size_t spare_capacity = 0);

}  // namespace scmoe::prof::formats
