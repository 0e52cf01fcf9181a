# Rscript rdata_export.R RDATA_PREFIX OUT_DIR NAME...
# Load an R package's lazy-load data (data/Rdata.rdb + .rdx) without installing the
# package, and write each named object to OUT_DIR/NAME.txt as UTF-8:
#   a character vector -> one element per line (a named single string: as is);
#   a data frame       -> one row per line, columns joined by tabs, newlines and tabs
#                         inside values turned into spaces, a header line first.
args <- commandArgs(trailingOnly = TRUE)
env <- new.env()
lazyLoad(args[1], envir = env)
for (name in args[-(1:2)]) {
  x <- get(name, envir = env)
  out <- file.path(args[2], paste0(name, ".txt"))
  con <- file(out, open = "wb")
  if (is.data.frame(x)) {
    cols <- lapply(x, function(v) {
      v <- if (inherits(v, "POSIXct")) format(v, "%Y-%m-%d %H:%M:%S", tz = "UTC") else as.character(v)
      gsub("[\t\r\n]+", " ", enc2utf8(v))
    })
    writeLines(enc2utf8(paste(names(x), collapse = "\t")), con, useBytes = TRUE)
    writeLines(do.call(paste, c(cols, sep = "\t")), con, useBytes = TRUE)
  } else {
    writeLines(enc2utf8(as.character(x)), con, useBytes = TRUE)
  }
  close(con)
}
