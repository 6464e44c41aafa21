"""The language: text to expression trees and back, and VALUE strings to arrays. Imports nothing of gradcli but errors and limits."""
