// Small widget helpers the tray's windows share.
#pragma once

#include <string>
#include <vector>

#include <QColor>
#include <QFont>
#include <QImage>
#include <QImageReader>
#include <QLabel>
#include <QPalette>
#include <QString>

namespace wm::tray {

/// A word-wrapped label showing `text` as plain text: what the agent or a company profile sends is never
/// read as HTML.
inline QLabel* plainLabel(const std::string& text, const char* object_name, QWidget* parent = nullptr) {
  auto* label = new QLabel(QString::fromStdString(text), parent);
  label->setTextFormat(Qt::PlainText);
  label->setWordWrap(true);
  label->setObjectName(QString::fromLatin1(object_name));
  return label;
}

/// `label` set larger than the text around it, in the same family and weight as all the tray's text: a bold
/// face would be a second font file, with its own FreeType face and glyph cache, that stays loaded in the
/// tray once any window has shown it.
inline void emphasize(QLabel* label, double scale) {
  QFont font = label->font();
  font.setPointSizeF(font.pointSizeF() * scale);
  label->setFont(font);
}

/// `widget`'s text in `color`. Through the palette, not a style sheet: a style sheet brings Qt's style sheet
/// engine into the tray, and its code stays resident after the window is gone.
inline void setTextColor(QWidget* widget, const QColor& color) {
  QPalette palette = widget->palette();
  palette.setColor(QPalette::WindowText, color);
  widget->setPalette(palette);
}

/// The image at `path` shrunk to fit `box`, decoded at that size: a JPEG decoder scales while decoding, so a
/// full-size screenshot is never held in memory (a 1920×1080 one would be 8 MB of pixels that glibc keeps in
/// the heap afterwards). A null image when the file is missing or unreadable.
inline QImage readThumbnail(const std::string& path, QSize box) {
  if (path.empty()) return {};
  QImageReader reader(QString::fromStdString(path));
  reader.setAutoTransform(true);
  const QSize full = reader.size();
  if (full.isValid() && (full.width() > box.width() || full.height() > box.height()))
    reader.setScaledSize(full.scaled(box, Qt::KeepAspectRatio));
  return reader.read();
}

/// The lines joined for one label.
inline std::string joinLines(const std::vector<std::string>& lines, const char* empty_text) {
  if (lines.empty()) return empty_text;
  std::string out;
  for (const auto& l : lines) {
    if (!out.empty()) out += "\n";
    out += l;
  }
  return out;
}

}  // namespace wm::tray
