/** The browser session cookie's name; the notebook proxy strips it so notebooks never see it. */
export const SESSION_COOKIE_NAME = 'riglab_session';
