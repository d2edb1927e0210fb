/* pgtls_audit--1.0.0--1.1.0.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pgtls_audit UPDATE TO '1.1.0'" to load this file. \quit

-- A function whose result columns change here gets a new C symbol ending in
-- _1_1, and the old symbol keeps serving 1.0.0: see pgtls_audit--1.0.0.sql.
