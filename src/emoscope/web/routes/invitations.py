"""Invitations: an analyst invites a candidate to record answers to a list of questions with the
browser's camera; the candidate's pages are reached by the invitation's one-time link only."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
