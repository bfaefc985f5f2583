"""voicewatch dashboard: the Streamlit app."""
