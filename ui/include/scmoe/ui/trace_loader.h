// Loads trace files off the UI thread (prof::formats::load_traces in a QtConcurrent task) with progress
// and cancel. One load at a time; results arrive on the GUI thread as signals.
#pragma once

#include <QFutureWatcher>
#include <QObject>
#include <QStringList>
#include <atomic>
#include <memory>

#include "scmoe/profiler/formats/load.h"

namespace scmoe::ui {

class TraceLoader : public QObject {
  Q_OBJECT

 public:
  explicit TraceLoader(QObject* parent = nullptr);
  ~TraceLoader() override;

  // Several files become one multi-rank trace (one file per rank). Returns false when a load is running.
  bool load(const QStringList& paths);
  void cancel();
  bool busy() const { return watcher_.isRunning(); }

 signals:
  void progress(double fraction);
  void loaded(std::shared_ptr<const scmoe::prof::Trace> trace, const QStringList& paths);
  void failed(const QString& error);
  void cancelled();

 private:
  void onFinished();

  QFutureWatcher<prof::formats::LoadResult> watcher_;
  std::shared_ptr<std::atomic<bool>> cancel_flag_;
  QStringList paths_;
};

}  // namespace scmoe::ui
