"""Project settings: every knob, one commented line each (model: scrapy/settings/default_settings.py).

Override any of them per run with ``-s NAME=VALUE``. Every limit and count has a range, checked at
start-up (crawler/control/startup.py LIMITS): a negative limit or count stops the run with exit 2.
"""

BOT_NAME = "newsarchiver"  # name used in logs and the default user agent
SPIDER_MODULES = ["crawler.spiders"]  # where `scrapy crawl` finds the `news` spider
NEWSPIDER_MODULE = "crawler.spiders"  # where `scrapy genspider` puts new spiders
COMMANDS_MODULE = "crawler.commands"  # adds `scrapy extract` and `scrapy corpus wacz|push`

# --- Politeness -------------------------------------------------------------------------------
USER_AGENT = "newsarchiver/0.1 (+https://example.org/newsarchiver; crawler contact page)"  # who we are; replace the URL with your contact page
DEFAULT_REQUEST_HEADERS = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "Accept-Language": "en", "Accept-Encoding": "gzip, deflate"}  # Scrapy's Accept headers; only codings every archive tool reads (Scrapy adds br, zstd: warcio crashes on br with Google's brotli, pywb cannot rewrite zstd); br/zstd sent unasked are still decoded
DOWNLOAD_HANDLERS = {"http": "crawler.net.rawcapture.RawHeadHTTP11DownloadHandler", "https": "crawler.net.rawcapture.RawHeadHTTP11DownloadHandler"}  # Scrapy's HTTP/1.1 handler, keeping each response's status line and header lines as received, for the WARC
ROBOTSTXT_OBEY = True  # fetch and honour robots.txt before any page of a site
AUTOTHROTTLE_ENABLED = True  # adapt the per-site delay to the server's response times
AUTOTHROTTLE_START_DELAY = 1.0  # seconds between requests to a site before latency is known
AUTOTHROTTLE_MAX_DELAY = 30.0  # never wait longer than this between two requests to a site
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0  # aim for one request in flight per site on average
DOWNLOAD_DELAY = 0.25  # floor of the per-site delay in seconds (AutoThrottle never goes below it)
CONCURRENT_REQUESTS = 16  # requests in flight over all sites
CONCURRENT_REQUESTS_PER_DOMAIN = 2  # requests in flight to one site
DOWNLOAD_TIMEOUT = 30  # seconds before a request is given up
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024  # responses larger than 16 MiB are dropped, not archived
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024  # log a warning for responses over 4 MiB
RETRY_TIMES = 2  # retries of a failed request (timeouts, 5xx) before it is given up (0 = no retry)
REDIRECT_MAX_TIMES = 10  # longest redirect chain followed (0 = follow no redirect)
COOKIES_ENABLED = False  # news pages do not need cookies, and we never archive them
TELNETCONSOLE_ENABLED = False  # no listening telnet port on crawl machines
REMOTE_CONTROL_ENABLED = False  # no code-execution HTTP endpoint on crawl machines (Scrapy 2.19 default: on)

# --- Refused requests (crawler/net/middlewares.py: SSRF guard) ------------------------------------
NEWS_ALLOWED_NETWORKS = []  # CIDRs the crawler may fetch although not public, e.g. 10.1.0.0/16,127.0.0.0/8 (default: public addresses only)
NEWS_MAX_URL_LENGTH = 2048  # any request (links, redirects, robots.txt, seeds) with a longer URL is refused: news/refused/url_too_long (0 = no limit)
URLLENGTH_LIMIT = 0  # Scrapy's spider-output-only length filter off: NEWS_MAX_URL_LENGTH covers every request, redirects too
DOWNLOADER_MIDDLEWARES = {
    "crawler.net.middlewares.SSRFGuardMiddleware": 40,  # before offsite (50) and robots.txt (100): refused hosts get no request at all
}

# --- What the `news` spider follows -----------------------------------------------------------
DEPTH_LIMIT = 3  # link hops followed from a seed page (0 = unlimited)
DEPTH_PRIORITY = 1  # breadth-first: section pages before deep archives
ADDONS = {"crawler.control.startup.StartupCheckAddon": -100, "crawler.frontier.scheduler.SchedulerAddon": 0}  # first the start-up check (a mistyped setting or unreadable size stops the run); then the scheduler: with REDIS_URL set scrapy-redis's shared queue and dupefilter, else Scrapy's with its queue on disk in .state/ (memory stays flat however long the frontier)
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"  # breadth-first on disk: the local queue in .state/, and with JOBDIR
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"  # breadth-first in memory
NEWS_MIN_ARTICLE_CHARS = 400  # an extracted text shorter than this is not an article
CONCURRENT_ITEMS = 4  # spider outputs (items, requests) of one response handled at once; Scrapy's 100 starts 100 asyncio tasks per response, ~15% of the reactor's CPU, for synchronous pipelines that gain nothing from it
NEWS_EXTRACT_PROCESSES = None  # extraction worker processes (None = one per core; 0 = in the reactor thread)
NEWS_MAX_AGE_DAYS = 30  # feed/sitemap entries dated older than this are not fetched (-a since= overrides; 0 = no limit)
NEWS_MAX_PAGES_PER_DOMAIN = 10_000  # pages requested per site (host) and run; further ones only counted, news/skipped/domain_limit (0 = no limit: -s NEWS_MAX_PAGES_PER_DOMAIN=0)
NEWS_MAX_LINKS_PER_PAGE = 500  # in-site links followed per page, in page order; further ones only counted, news/skipped/links_over_cap (0 = no limit)
CLOSESPIDER_TIMEOUT = 0  # stop a run after this many seconds (0 = never); also CLOSESPIDER_ITEMCOUNT, CLOSESPIDER_PAGECOUNT

# --- Archive ----------------------------------------------------------------------------------
ARCHIVE_URI = "archive"  # where runs are written: a local folder, file:// URI or s3://bucket/prefix
ARCHIVE_RUN_ID = ""  # fixed run id (default: UTC start time plus a random suffix)
WARC_PREFIX = "news"  # first part of IIPC-style WARC names <prefix>-<timestamp>-<serial>-<host>
WARC_MAX_SIZE = 1024**3  # rotate to a new WARC file after this many bytes (1 GiB; 0 = no limit)
WARC_MAX_AGE = 24 * 3600  # rotate to a new WARC file after this many seconds (0 = no limit)
WARC_DEDUP = True  # an unchanged payload (this run or an earlier run's index) is written as a revisit record
WACZ_ENABLED = False  # also package each run as <run_id>.wacz (or later: scrapy corpus wacz RUN)
TEXT_SHARD_MAX_RECORDS = 10_000  # articles per text/*.jsonl.gz shard before a new one starts (0 = no limit)

ITEM_PIPELINES = {
    "pipelines.text.TextShardPipeline": 500,  # clean-text JSON Lines shards
}
EXTENSIONS = {
    "crawler.control.extensions.CrawlLockExtension": 10,  # one run at a time per archive and spider
    "crawler.frontier.jobdir.JobdirCrashGuard": 20,  # JOBDIR left by a killed run: drop its stale queue, not articles
    "crawler.control.extensions.InterruptExtension": 30,  # SIGTERM/SIGINT: note which and when, so the run ends `interrupted` (exit 6), not `ok`
    "pipelines.repair.OrphanRepairExtension": 50,  # close .open files a killed run left behind
    "pipelines.warc.WarcCaptureExtension": 100,  # every response as received -> WARC
    "crawler.control.extensions.CrawlDelayExtension": 500,  # robots.txt Crawl-delay, after AutoThrottle
    "pipelines.manifest.RunManifestExtension": 900,  # manifest.json, last (after the writers)
    "crawler.control.progress.CrawlProgress": 950,  # live progress line on a terminal (NEWS_PROGRESS)
}

# --- S3 archives (ARCHIVE_URI = s3://bucket/prefix); credentials come from boto3's chain only
ARCHIVE_SPOOL = "~/.cache/newsarchiver/spool"  # local folder holding files until their upload is verified
S3_ENDPOINT_URL = ""  # MinIO / R2 / Ceph endpoint (default: AWS_ENDPOINT_URL or S3_ENDPOINT_URL from the environment, else AWS)
S3_REGION = ""  # bucket region (default: boto3's chain, e.g. AWS_REGION)
S3_STORAGE_CLASS = ""  # e.g. STANDARD_IA, GLACIER_IR (default: the bucket's)
S3_SSE = ""  # server-side encryption: AES256 or aws:kms (default: the bucket's)
S3_SSE_KMS_KEY_ID = ""  # KMS key for S3_SSE = aws:kms
S3_MULTIPART_THRESHOLD = 64 * 1024**2  # files from this size up go as multipart uploads
S3_MULTIPART_CHUNKSIZE = 64 * 1024**2  # part size of multipart uploads
S3_MAX_CONCURRENCY = 4  # parallel part uploads of one file
S3_UPLOAD_WORKERS = 2  # files uploaded at once, beside the crawl
S3_UPLOAD_RETRIES = 4  # whole-upload retries after boto3's own request retries
S3_RETRY_BACKOFF = 2.0  # seconds before the first retry, doubled each time

# --- Distributed crawling (scrapy-redis): README "Distributed crawling" -----------------------
REDIS_URL = ""  # e.g. redis://redis.internal:6379/0: every worker given the same URL, seeds and ARCHIVE_URI shares one crawl (empty = single-process crawl)
REDIS_CRAWL_ID = "default"  # names one distributed crawl (its queue and dupefilter keys); the last worker to finish deletes them, so an id can be reused
REDIS_KEY_PREFIX = "newsarchiver"  # first part of every Redis key; give each archive its own prefix when archives share a Redis (the seen-store lives under it)
REDIS_WORKER_TIMEOUT = 60  # seconds without a heartbeat after which a worker counts as dead (its run-id lock and busy mark expire)
WORKER_ID = ""  # this worker's name in Redis and in its WARC/text file names (default: <host>-<pid> when REDIS_URL is set)

# --- Corpus tools (`scrapy corpus ls|get|export|report|push`) ---------------------------------
CORPUS_DEDUP_THRESHOLD = 0.6  # estimated Jaccard similarity of word-shingle sets from which two articles are syndicated copies; trimmed copies fall to ~0.65, shared-boilerplate and template texts stay < 0.4 (bench/dedup_threshold.py)
CORPUS_DEDUP_NUM_PERM = 128  # MinHash permutations per article: more is more exact and slower
CORPUS_DEDUP_SHINGLE_WORDS = 5  # words per shingle compared by near-duplicate detection

# --- Logging and encoding ---------------------------------------------------------------------
LOG_LEVEL = "INFO"  # DEBUG lists every request; also WARNING, ERROR, CRITICAL (any case; another name stops the run, exit 2)
NEWS_PROGRESS = "auto"  # live "pages · articles · queued · pages/s" line on stderr: auto = only when stderr is a terminal (never in cron logs or Scrapyd); True/False to force
FEED_EXPORT_ENCODING = "utf-8"  # `-o` exports in UTF-8, not \u escapes
