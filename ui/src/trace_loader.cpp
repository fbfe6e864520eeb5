#include "scmoe/ui/trace_loader.h"

#include <QMetaObject>
#include <QPointer>
#include <QtConcurrent/QtConcurrentRun>

namespace scmoe::ui {

TraceLoader::TraceLoader(QObject* parent) : QObject(parent) {
  qRegisterMetaType<std::shared_ptr<const scmoe::prof::Trace>>();
  connect(&watcher_, &QFutureWatcher<prof::formats::LoadResult>::finished, this, &TraceLoader::onFinished);
}

TraceLoader::~TraceLoader() {
  cancel();
  watcher_.waitForFinished();
}

bool TraceLoader::load(const QStringList& paths) {
  if (busy()) return false;
  paths_ = paths;
  cancel_flag_ = std::make_shared<std::atomic<bool>>(false);
  std::vector<std::string> files;
  for (const QString& p : paths) files.push_back(p.toStdString());
  QPointer<TraceLoader> self(this);
  auto flag = cancel_flag_;
  watcher_.setFuture(QtConcurrent::run([files, flag, self]() {
    prof::formats::LoadOptions options;
    options.progress = [flag, self](double fraction) {
      QMetaObject::invokeMethod(self, [self, fraction] { if (self) emit self->progress(fraction); }, Qt::QueuedConnection);
      return !flag->load();
    };
    return prof::formats::load_traces(files, options);
  }));
  return true;
}

void TraceLoader::cancel() {
  if (cancel_flag_) cancel_flag_->store(true);
}

void TraceLoader::onFinished() {
  prof::formats::LoadResult result = watcher_.result();
  if (result.cancelled) {
    emit cancelled();
  } else if (!result.error.empty() || !result.trace) {
    emit failed(QString::fromStdString(result.error.empty() ? "no trace loaded" : result.error));
  } else {
    emit loaded(std::make_shared<const prof::Trace>(std::move(*result.trace)), paths_);
  }
}

}  // namespace scmoe::ui
