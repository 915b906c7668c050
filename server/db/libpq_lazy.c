/* libpq_lazy — wrappers with libpq's names that dlopen it on first use (see lazy_lib.h).
 * A libpq function tessera starts calling needs its line here, or the link fails. */
#include "tessera/libpq_lazy.h"

#include <libpq-fe.h>

#include "tessera/lazy_lib.h"

#ifndef LIBPQ_SONAME
#define LIBPQ_SONAME "libpq.so.5"
#endif

static struct lazy_lib libpq = LAZY_LIB_INIT(LIBPQ_SONAME);

bool libpq_available(const char **why)
{
    struct lazy_lib *const libs[] = {&libpq};
    return lazy_lib_open_all(libs, 1, why);
}

/* Connections */
LAZY_FUNCTION(libpq, PGconn *, PQconnectdb, (const char *conninfo), (conninfo))
LAZY_FUNCTION(libpq, PGconn *, PQconnectStartParams,
              (const char *const *keywords, const char *const *values, int expand_dbname),
              (keywords, values, expand_dbname))
LAZY_FUNCTION(libpq, PostgresPollingStatusType, PQconnectPoll, (PGconn *conn), (conn))
LAZY_VOID_FUNCTION(libpq, PQfinish, (PGconn *conn), (conn))
LAZY_FUNCTION(libpq, ConnStatusType, PQstatus, (const PGconn *conn), (conn))
LAZY_FUNCTION(libpq, PGTransactionStatusType, PQtransactionStatus, (const PGconn *conn), (conn))
LAZY_FUNCTION(libpq, char *, PQerrorMessage, (const PGconn *conn), (conn))
LAZY_FUNCTION(libpq, int, PQsocket, (const PGconn *conn), (conn))
LAZY_FUNCTION(libpq, int, PQbackendPID, (const PGconn *conn), (conn))
LAZY_FUNCTION(libpq, PQnoticeProcessor, PQsetNoticeProcessor, (PGconn *conn, PQnoticeProcessor proc, void *arg),
              (conn, proc, arg))
LAZY_FUNCTION(libpq, int, PQconsumeInput, (PGconn *conn), (conn))
LAZY_FUNCTION(libpq, PGnotify *, PQnotifies, (PGconn *conn), (conn))

/* Connection strings */
LAZY_FUNCTION(libpq, PQconninfoOption *, PQconninfoParse, (const char *conninfo, char **errmsg), (conninfo, errmsg))
LAZY_VOID_FUNCTION(libpq, PQconninfoFree, (PQconninfoOption *options), (options))
LAZY_VOID_FUNCTION(libpq, PQfreemem, (void *ptr), (ptr))

/* Statements */
LAZY_FUNCTION(libpq, PGresult *, PQexec, (PGconn *conn, const char *query), (conn, query))
LAZY_FUNCTION(libpq, PGresult *, PQexecParams,
              (PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
               const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat),
              (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat))
LAZY_FUNCTION(libpq, PGresult *, PQprepare,
              (PGconn *conn, const char *stmtName, const char *query, int nParams, const Oid *paramTypes),
              (conn, stmtName, query, nParams, paramTypes))
LAZY_FUNCTION(libpq, PGresult *, PQexecPrepared,
              (PGconn *conn, const char *stmtName, int nParams, const char *const *paramValues,
               const int *paramLengths, const int *paramFormats, int resultFormat),
              (conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat))

LAZY_FUNCTION(libpq, int, PQsendQuery, (PGconn *conn, const char *query), (conn, query))
LAZY_FUNCTION(libpq, int, PQsendQueryParams,
              (PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
               const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat),
              (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat))
LAZY_FUNCTION(libpq, int, PQsendPrepare,
              (PGconn *conn, const char *stmtName, const char *query, int nParams, const Oid *paramTypes),
              (conn, stmtName, query, nParams, paramTypes))
LAZY_FUNCTION(libpq, int, PQsendQueryPrepared,
              (PGconn *conn, const char *stmtName, int nParams, const char *const *paramValues,
               const int *paramLengths, const int *paramFormats, int resultFormat),
              (conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat))
LAZY_FUNCTION(libpq, int, PQisBusy, (PGconn *conn), (conn))
LAZY_FUNCTION(libpq, int, PQsetnonblocking, (PGconn *conn, int arg), (conn, arg))
LAZY_FUNCTION(libpq, int, PQflush, (PGconn *conn), (conn))
LAZY_FUNCTION(libpq, PGresult *, PQgetResult, (PGconn *conn), (conn))

/* Results */
LAZY_VOID_FUNCTION(libpq, PQclear, (PGresult *res), (res))
LAZY_FUNCTION(libpq, ExecStatusType, PQresultStatus, (const PGresult *res), (res))
LAZY_FUNCTION(libpq, char *, PQresultErrorMessage, (const PGresult *res), (res))
LAZY_FUNCTION(libpq, char *, PQresultErrorField, (const PGresult *res, int fieldcode), (res, fieldcode))
LAZY_FUNCTION(libpq, int, PQntuples, (const PGresult *res), (res))
LAZY_FUNCTION(libpq, int, PQnfields, (const PGresult *res), (res))
LAZY_FUNCTION(libpq, char *, PQgetvalue, (const PGresult *res, int row, int column), (res, row, column))
LAZY_FUNCTION(libpq, int, PQgetlength, (const PGresult *res, int row, int column), (res, row, column))
LAZY_FUNCTION(libpq, int, PQgetisnull, (const PGresult *res, int row, int column), (res, row, column))
LAZY_FUNCTION(libpq, char *, PQcmdTuples, (PGresult *res), (res))
