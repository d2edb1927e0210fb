/* pgtls_audit--1.0.0--1.1.0.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pgtls_audit UPDATE TO '1.1.0'" to load this file. \quit
